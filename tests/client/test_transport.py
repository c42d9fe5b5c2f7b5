"""What the client's transport does that the contract protocol cannot see."""

from __future__ import annotations

import json
import threading
import time

import anyio
import httpx
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.clients.ranker import parse_rank_response
from reranker_nvidia.modulecomponents._retry_drivers import Pause
from reranker_nvidia.modulecomponents._transport import MAX_IN_FLIGHT
from reranker_nvidia.modulecomponents.base_client import (
    BaseTransport,
    DialGuardError,
    DialRefused,
    new_base_http_client,
)
from reranker_nvidia.modulecomponents.retry_transport import (
    AsyncRetryTransport,
    round_trip_with_retries,
)
from tests.support.dns import FakeResolver
from tests.support.httptest import (
    RawConnection,
    Request,
    StartServer,
    Writer,
    http_response,
    start_raw_server,
)


def ok(request: Request, w: Writer) -> None:
    w.respond(200, {"rankings": [{"index": 0, "logit": 1.0}]})


def test_proxy_variables_are_ignored(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # D-PROXY: Go would send this through the (dead) proxy; the port connects directly.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server = http_server(ok)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k") as client:
        assert client.rank("q", ["a"], cfg).document_scores[0].score == 1.0
    assert len(server.requests) == 1


def test_speaks_http_1_1_with_its_own_user_agent(http_server: StartServer) -> None:
    # D-HTTP-VERSION
    server = http_server(ok)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k") as client:
        client.rank("q", ["a"], cfg)
    (request,) = server.requests
    assert request.headers["User-Agent"] == "reranker-nvidia (python-httpx)"
    assert request.headers["Accept-Encoding"] == "gzip"
    assert request.headers["Connection"] == "keep-alive"


def test_connections_are_pooled_across_calls(http_server: StartServer) -> None:
    server = http_server(ok)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k") as client:
        for _ in range(5):
            client.rank("q", ["a"], cfg)
    assert len(server.requests) == 5
    assert server.connections == 1


def test_invalid_utf8_in_a_200_body_reads_as_go_does() -> None:
    body = b'{"rankings": [{"index": 0, "logit": 2.5}], "note": "caf\xe9"}'
    assert [r.logit for r in parse_rank_response(200, body)] == [2.5]


def test_the_resend_flow_yields_each_attempt_and_pause() -> None:
    # The one flow both transports drive, run by hand: attempt, break, pause, attempt, answer.
    request = httpx.Request("POST", "http://localhost/", content=b"{}")
    resends: list[None] = []
    flow = round_trip_with_retries(request, lambda: resends.append(None), asynchronous=False)
    assert next(flow) is request
    trace = request.extensions["trace"]
    trace("http11.send_request_headers.started", {})  # sent without a dial: a pooled connection
    pause = flow.throw(httpx.RemoteProtocolError("Server disconnected without sending a response."))
    assert isinstance(pause, Pause)
    assert 0.050 <= pause.seconds < 0.100
    assert "trace" not in request.extensions
    assert flow.send(None) is request
    assert resends == [None]
    answer = httpx.Response(200)
    with pytest.raises(StopIteration) as done:
        flow.send(answer)
    assert done.value.value is answer


def test_a_trace_the_caller_installed_still_sees_every_event(http_server: StartServer) -> None:
    server = http_server(ok)
    seen: list[str] = []
    with new_base_http_client(30) as client:
        response = client.post(
            server.url, content=b"{}", extensions={"trace": lambda name, info: seen.append(name)}
        )
    assert response.status_code == 200
    assert "connection.connect_tcp.started" in seen
    assert "http11.send_request_headers.started" in seen


def test_the_dial_guard_it_is_given_sees_every_address(http_server: StartServer) -> None:
    server = http_server(ok)
    dialled: list[tuple[str, str]] = []

    def refuse(network: str, address: str) -> None:
        dialled.append((network, address))
        raise DialGuardError(f'refusing to dial internal address "{address}"')

    resolver = FakeResolver({"nim.example": ["127.0.0.1", "::1"]})
    port = httpx.URL(server.url).port
    with (
        new_base_http_client(
            30, transport=BaseTransport(dial_guard=refuse, resolver=resolver)
        ) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.post(f"http://nim.example:{port}/", content=b"{}")
    assert dialled == [("tcp", f"127.0.0.1:{port}"), ("tcp", f"[::1]:{port}")]
    assert isinstance(caught.value.__cause__, DialRefused)
    assert str(caught.value) == (
        f'dial tcp 127.0.0.1:{port}: refusing to dial internal address "127.0.0.1:{port}"'
    )
    assert server.requests == []


class SlowAsyncTransport(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        return httpx.Response(200)  # pragma: no cover - always cancelled first


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_cancelled_attempt_leaves_the_request_as_it_was(anyio_backend: str) -> None:
    transport = AsyncRetryTransport(SlowAsyncTransport())
    request = httpx.Request("POST", "http://localhost/", content=b"{}")
    extensions = request.extensions
    with anyio.move_on_after(0.05) as scope:
        await transport.handle_async_request(request)
    assert scope.cancelled_caught
    assert request.extensions is extensions
    assert transport.resends == 0


# --------------------------------------------------------------------------
# A stale, unsolicited answer on an idle pooled connection is never taken
# --------------------------------------------------------------------------


def _answer(logit: float) -> bytes:
    return http_response(json.dumps({"rankings": [{"index": 0, "logit": logit}]}).encode())


def _rank_twice(kind: str, url: str, pause: float) -> list[float]:
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": url})
    if kind == "sync":
        with Client("k") as client:
            first = client.rank("q", ["a"], cfg).document_scores[0].score
            time.sleep(pause)
            second = client.rank("q", ["a"], cfg).document_scores[0].score
        return [first, second]

    async def main() -> list[float]:
        async with AsyncClient("k") as client:
            first = (await client.rank("q", ["a"], cfg)).document_scores[0].score
            await anyio.sleep(pause)
            second = (await client.rank("q", ["a"], cfg)).document_scores[0].score
        return [first, second]

    return anyio.run(main)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("extra_after", [None, 0.05], ids=["same-write", "50ms-later"])
def test_an_unsolicited_answer_on_an_idle_connection_is_never_taken(
    kind: str, extra_after: float | None
) -> None:
    # Go's net/http closes such a connection ("Unsolicited response received on idle HTTP
    # channel"); the next call must get a connection of its own and the server's real answer.
    served = 0  # over the whole server: the second call's answer is 2.0 on any connection

    def stale(conn: RawConnection) -> None:
        nonlocal served
        while conn.read_request() is not None:
            served += 1
            if served > 1:
                conn.send(_answer(2.0))
            elif extra_after is None:
                conn.send(_answer(1.0) + _answer(99.0))
            else:
                conn.send(_answer(1.0))
                conn.wait(extra_after)
                conn.send(_answer(99.0))

    server = start_raw_server(stale)
    try:
        assert _rank_twice(kind, server.url, pause=0.3) == [1.0, 2.0]
        assert server.connections == 2
    finally:
        server.close()


# --------------------------------------------------------------------------
# The async client's in-flight work is bounded
# --------------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_many_concurrent_async_calls_are_sent_a_bounded_number_at_a_time(
    anyio_backend: str,
) -> None:
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def count(conn: RawConnection) -> None:
        nonlocal in_flight, most
        while conn.read_request() is not None:
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            conn.wait(0.02)
            with lock:
                in_flight -= 1
            if not conn.send(_answer(1.0)):
                return

    server = start_raw_server(count)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    calls = MAX_IN_FLIGHT * 3
    scores: list[float] = []
    try:
        async with AsyncClient("k", 30) as client:

            async def one() -> None:
                result = await client.rank("q", ["a"], cfg)
                scores.append(result.document_scores[0].score)

            async with anyio.create_task_group() as group:
                for _ in range(calls):
                    group.start_soon(one)
    finally:
        server.close()
    assert scores == [1.0] * calls
    assert 1 < most <= MAX_IN_FLIGHT


def test_the_async_path_has_its_dependencies_installed() -> None:
    # httpcore asks sniffio which event loop runs at every lock and event it sets up; without
    # it, each call pays for a failing import. It is a core dependency of the distribution.
    import importlib.util
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    names = [
        d.split(">")[0].split("=")[0].split("<")[0] for d in pyproject["project"]["dependencies"]
    ]
    assert "sniffio" in names
    assert importlib.util.find_spec("sniffio") is not None
