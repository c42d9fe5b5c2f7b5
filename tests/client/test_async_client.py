"""AsyncClient: the same behaviour as Client, on anyio; only the sending differs."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig
from reranker_nvidia.errors import (
    DeadlineExceededError,
    DialRefusedError,
    MissingAPIKeyError,
    UpstreamError,
)
from reranker_nvidia.modulecomponents.base_client import new_async_base_http_client
from reranker_nvidia.modulecomponents.retry_transport import AsyncRetryTransport, RetriesExhausted
from tests.support.httptest import Request, StartServer, Writer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def scores_by_position(request: Request, w: Writer) -> None:
    passages = request.json()["passages"]
    w.respond(
        200, {"rankings": [{"index": i, "logit": float(i)} for i in reversed(range(len(passages)))]}
    )


def cfg_for(url: str) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": url})


async def test_ranks_over_a_real_connection_in_chunks(http_server: StartServer) -> None:
    server = http_server(scores_by_position)
    progress: list[int] = []
    async with AsyncClient("k", max_documents=2, max_concurrency=2) as client:
        result = await client.rank(
            "q",
            ["a", "b", "c", "d", "e"],
            cfg_for(server.url),
            on_progress=lambda d, t: progress.append(d),
        )
    assert [(s.document, s.score) for s in result.document_scores] == [
        ("a", 0.0), ("b", 1.0), ("c", 0.0), ("d", 1.0), ("e", 0.0),
    ]  # fmt: skip
    assert len(server.requests) == 3
    # Cumulative counts; chunks may finish in any order, so the steps are the chunk sizes.
    steps = [b - a for a, b in zip([0, *progress], progress, strict=False)]
    assert progress[-1] == 5
    assert sorted(steps) == [1, 2, 2]


async def test_no_documents_means_no_request() -> None:
    async with AsyncClient("") as client:
        result = await client.rank("q", [])
    assert result.document_scores == []


async def test_in_process_transports_work_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        count = len(json.loads(request.content)["passages"])
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": 1.0} for i in range(count)]}
        )

    async with AsyncClient("k", transport=httpx.MockTransport(handler)) as client:
        result = await client.rank("q", ["a", "b"], headers={"X-Nvidia-Api-Key": "h"})
    assert [s.score for s in result.document_scores] == [1.0, 1.0]


async def test_errors_are_the_sync_clients(http_server: StartServer) -> None:
    server = http_server(lambda r, w: w.respond(403, {"detail": "Authorization failed"}))
    async with AsyncClient("k") as client:
        with pytest.raises(UpstreamError) as caught:
            await client.rank("q", ["a"], cfg_for(server.url))
    async with AsyncClient("") as keyless:
        with pytest.raises(MissingAPIKeyError):
            await keyless.rank("q", ["a"], cfg_for(server.url), headers={"X-Nvidia-Api-Key": ""})
    assert (
        str(caught.value)
        == "connection to NVIDIA API failed with status: 403 error: Authorization failed"
    )


async def test_a_failing_chunk_cancels_the_rest(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        if request.json()["passages"][0]["text"] == "b":
            w.respond(500, b"")
            return
        scores_by_position(request, w)

    server = http_server(handler)
    async with AsyncClient("k", max_documents=1, max_concurrency=1) as client:
        with pytest.raises(UpstreamError):
            await client.rank("q", ["a", "b", "c", "d"], cfg_for(server.url))
    assert [r.json()["passages"][0]["text"] for r in server.requests] == ["a", "b"]


async def test_the_deadline_covers_the_send(http_server: StartServer) -> None:
    server = http_server(lambda r, w: w.block())
    async with AsyncClient("k", 0.2) as client:
        with pytest.raises(DeadlineExceededError) as caught:
            await client.rank("q", ["a"], cfg_for(server.url))
    assert str(caught.value).endswith(": context deadline exceeded")


async def test_the_deadline_covers_the_body(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        w.write_head(200, {"Content-Length": "50"})
        w.write(b'{"rankings"')
        w.flush()
        w.block()

    server = http_server(handler)
    async with AsyncClient("k", 0.2) as client:
        with pytest.raises(DeadlineExceededError) as caught:
            await client.rank("q", ["a"], cfg_for(server.url))
    assert str(caught.value) == "read response body: context deadline exceeded"


async def test_the_dial_guard_works_on_anyio(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "1")
    server = http_server(scores_by_position)
    async with AsyncClient("k") as client:
        with pytest.raises(DialRefusedError, match="refusing to dial internal address"):
            await client.rank("q", ["a"], cfg_for(server.url))
    assert server.requests == []


async def test_a_dropped_pooled_connection_is_resent(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        if len(server.requests) == 2:
            w.drop()
            return
        w.respond(200, b"ok")

    server = http_server(handler)
    async with new_async_base_http_client(30) as client:
        first = await client.post(server.url, content=b"{}")
        await first.aread()
        second = await client.post(server.url, content=b"{}")
    assert second.text == "ok"
    assert len(server.requests) == 3
    assert isinstance(client._transport, AsyncRetryTransport)
    assert client._transport.resends == 1


class FlakyAsyncTransport(httpx.AsyncBaseTransport):
    """Every attempt goes out on a pooled connection that breaks."""

    def __init__(self) -> None:
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        trace = request.extensions["trace"]
        await trace("http11.send_request_headers.started", {})
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


async def test_async_resends_twice_then_counts_the_attempts() -> None:
    base = FlakyAsyncTransport()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    transport = AsyncRetryTransport(base, 30, sleep=sleep)
    with pytest.raises(RetriesExhausted) as caught:
        await transport.handle_async_request(httpx.Request("POST", "http://x/", content=b"{}"))
    assert base.attempts == 3
    assert transport.resends == 2
    assert str(caught.value) == "after 3 attempts: Server disconnected without sending a response."
    assert len(slept) == 2


def test_an_async_client_works_in_a_second_event_loop(http_server: StartServer) -> None:
    def ok(request: Request, writer: Writer) -> None:
        writer.respond(200, {"rankings": [{"index": 0, "logit": 1.0}]})

    server = http_server(ok)
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url})
    client = AsyncClient("k", timeout=10)

    async def once() -> float:
        result = await client.rank("q", ["a"], cfg)
        return result.document_scores[0].score

    assert asyncio.run(once()) == 1.0
    # The first loop ended with its connection open; the pool that held it is dropped, which
    # Python reports as an unclosed socket (a ResourceWarning) when the pool is collected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        assert asyncio.run(once()) == 1.0
        gc.collect()

    async def close() -> None:
        await client.aclose()

    asyncio.run(once_then(once, close))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(close())  # in yet another loop: closing still works
        gc.collect()
    assert len(server.requests) == 3


async def once_then(*steps: Callable[[], Any]) -> None:
    for step in steps:
        await step()
