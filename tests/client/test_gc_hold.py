"""A rank call holds the cyclic garbage collector off, and leaves no reference cycle behind.

Holding the collector off is only safe because a successful call makes no cycle of its
own: each would keep a request body alive until the collector next ran. Both are checked
here, for both clients, over real connections with bodies long enough (over 64 KiB) for
the async transport's watched write.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator

import httpx
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.clients import _gc_hold
from reranker_nvidia.errors import UpstreamError
from reranker_nvidia.modulecomponents import _deadline, _transport
from tests.support.httptest import Request, StartServer, Writer

LONG = [f"{i} " + "passage text " * 16 for i in range(400)]  # one request of some 90 KB


def cfg_for(url: str) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": url})


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    assert _gc_hold.holders() == 0
    if not was:
        gc.disable()


def answering(seen: list[bool]) -> object:
    def handler(request: Request, w: Writer) -> None:
        seen.append(gc.isenabled())  # the server runs in this process: the same collector
        count = len(request.json()["passages"])
        w.respond(200, {"rankings": [{"index": i, "logit": float(i)} for i in range(count)]})

    return handler


def test_a_sync_call_holds_the_collector_off_and_gives_it_back(http_server: StartServer) -> None:
    seen: list[bool] = []
    server = http_server(answering(seen))  # type: ignore[arg-type]
    with Client("k", max_documents=2, max_concurrency=2) as client:
        result = client.rank("q", ["a", "b", "c"], cfg_for(server.url))
    assert [s.score for s in result.document_scores] == [0.0, 1.0, 0.0]
    assert seen == [False, False]
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off(http_server: StartServer) -> None:
    server = http_server(answering([]))  # type: ignore[arg-type]
    gc.disable()
    with Client("k") as client:
        client.rank("q", ["a"], cfg_for(server.url))
    assert not gc.isenabled()


def test_a_failed_call_gives_the_collector_back(http_server: StartServer) -> None:
    server = http_server(lambda r, w: w.respond(403, {"detail": "no"}))
    with Client("k") as client, pytest.raises(UpstreamError):
        client.rank("q", ["a"], cfg_for(server.url))
    assert gc.isenabled()


def test_overlapping_calls_give_it_back_when_the_last_ends(http_server: StartServer) -> None:
    inside = threading.Barrier(2, timeout=10)
    release_first = threading.Event()
    seen: list[bool] = []

    def handler(request: Request, w: Writer) -> None:
        if request.json()["query"]["text"] == "first":
            inside.wait()
            release_first.wait(10)
        else:
            inside.wait()
        seen.append(gc.isenabled())
        w.respond(200, {"rankings": [{"index": 0, "logit": 1.0}]})

    server = http_server(handler)
    with Client("k") as client:
        first = threading.Thread(target=client.rank, args=("first", ["a"], cfg_for(server.url)))
        first.start()
        client.rank("second", ["a"], cfg_for(server.url))
        assert not gc.isenabled()  # the first call still holds it
        assert _gc_hold.holders() == 1
        release_first.set()
        first.join(10)
    assert seen == [False, False]
    assert gc.isenabled()


def test_hold_and_release_are_counted() -> None:
    _gc_hold.hold()
    _gc_hold.hold()
    _gc_hold.release()
    assert not gc.isenabled()
    _gc_hold.release()
    assert gc.isenabled()


def test_calls_that_overlap_without_a_gap_give_the_collector_back_after_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(_gc_hold.time, "monotonic", lambda: clock[0])
    _gc_hold.hold()  # the first call: held
    clock[0] += _gc_hold.MAX_HOLD_S / 2
    _gc_hold.hold()  # a second one overlaps, within the bound: still held
    assert not gc.isenabled()
    _gc_hold.release()
    clock[0] += _gc_hold.MAX_HOLD_S
    _gc_hold.hold()  # a third overlaps past the bound: the collector runs again
    assert gc.isenabled()
    _gc_hold.release()
    assert gc.isenabled()  # and stays on while the overlap lasts
    _gc_hold.release()
    assert gc.isenabled() and _gc_hold.holders() == 0
    _gc_hold.hold()  # the next call, after a gap, holds it afresh
    assert not gc.isenabled()
    _gc_hold.release()
    assert gc.isenabled()


async def _async_calls(url: str, seen: list[bool]) -> None:
    async with AsyncClient("k", max_documents=1, max_concurrency=4) as client:
        await client.rank("q", ["a", "b", "c"], cfg_for(url))
        seen.append(gc.isenabled())


def test_an_async_call_holds_the_collector_off_and_gives_it_back(
    http_server: StartServer,
) -> None:
    seen: list[bool] = []
    server = http_server(answering(seen))  # type: ignore[arg-type]
    asyncio.run(_async_calls(server.url, seen))
    assert seen == [False, False, False, True]
    assert gc.isenabled()


CYCLIC = (
    httpx.Request,
    httpx.Response,
    _deadline.DeadlineBoundStream,
    _deadline.AsyncDeadlineBoundStream,
    _transport._AsyncDeadlineStream,
    asyncio.CancelledError,
)


def _cyclic_garbage() -> list[object]:
    """What a collection finds unreachable of the request's parts (each holds its body)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return [type(o).__name__ for o in gc.garbage if isinstance(o, CYCLIC)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_sync_call_leaves_no_cycle(http_server: StartServer) -> None:
    server = http_server(answering([]))  # type: ignore[arg-type]
    with Client("k", max_concurrency=2) as client:
        client.rank("q", LONG, cfg_for(server.url))  # warm: a pooled connection
        gc.collect()
        gc.disable()
        client.rank("q", LONG + LONG, cfg_for(server.url))
        assert _cyclic_garbage() == []


def test_an_async_call_leaves_no_cycle(http_server: StartServer) -> None:
    server = http_server(answering([]))  # type: ignore[arg-type]

    async def calls() -> list[object]:
        async with AsyncClient("k") as client:
            await client.rank("q", LONG, cfg_for(server.url))
            gc.collect()
            gc.disable()
            await client.rank("q", LONG + LONG, cfg_for(server.url))
            return _cyclic_garbage()

    assert asyncio.run(calls()) == []
