"""The one deadline covers every phase of a call, in both clients.

Each server here misbehaves at one phase (the lookup, the request body, the
interim responses, the headers) and keeps the connection busy far past the
timeout; the call must end with the deadline, soon after the timeout.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import anyio
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import ConfigError, DeadlineExceededError
from reranker_nvidia.modulecomponents.validate_baseurl import Resolver
from tests.support.dns import FakeResolver
from tests.support.httptest import (
    RawConnection,
    RawHandler,
    RawServer,
    http_response,
    start_raw_server,
)

CLIENTS = ["sync", "async"]
SLACK = 3.0  # generous: the machine may be busy; what matters is not running to the end
OK = b'{"rankings": [{"index": 0, "logit": 1.0}]}'


@pytest.fixture
def raw_server() -> Iterator[Callable[[RawHandler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: RawHandler) -> RawServer:
        server = start_raw_server(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def cfg_for(url: str) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": url})


def rank(
    kind: str,
    url: str,
    timeout: float,
    documents: Sequence[str] = ("a",),
    **options: Any,
) -> list[float]:
    """One ``rank`` call with the sync or the async client; the scores."""
    if kind == "sync":
        with Client("k", timeout, **options) as client:
            result = client.rank("q", documents, cfg_for(url))
        return [s.score for s in result.document_scores]

    async def main() -> list[float]:
        async with AsyncClient("k", timeout, **options) as client:
            result = await client.rank("q", documents, cfg_for(url))
        return [s.score for s in result.document_scores]

    return anyio.run(main)


def ends_with_the_deadline(kind: str, url: str, timeout: float, **options: Any) -> float:
    """Run a call that must hit the deadline; how long it took."""
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        rank(kind, url, timeout, **options)
    elapsed = time.monotonic() - started
    assert str(caught.value).endswith("context deadline exceeded")
    return elapsed


@pytest.mark.parametrize("kind", CLIENTS)
def test_an_endless_stream_of_100_continue_ends_with_the_deadline(
    kind: str, raw_server: Callable[[RawHandler], RawServer]
) -> None:
    def flood(conn: RawConnection) -> None:
        if conn.read_request() is None:
            return
        interim = b"HTTP/1.1 100 Continue\r\n\r\n" * 64
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and conn.send(interim):
            pass

    server = raw_server(flood)
    assert ends_with_the_deadline(kind, server.url, 1.0) < 1.0 + SLACK


@pytest.mark.parametrize("kind", CLIENTS)
def test_headers_that_trickle_in_end_with_the_deadline(
    kind: str, raw_server: Callable[[RawHandler], RawServer]
) -> None:
    def trickle(conn: RawConnection) -> None:
        if conn.read_request() is None:
            return
        conn.send(b"HTTP/1.1 200 OK\r\n")
        for i in range(5000):
            if not conn.send(f"X-Header-{i}: v\r\n".encode()) or not conn.wait(0.002):
                return

    server = raw_server(trickle)
    assert ends_with_the_deadline(kind, server.url, 1.0) < 1.0 + SLACK


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_request_body_read_slowly_but_steadily_ends_with_the_deadline(
    kind: str, raw_server: Callable[[RawHandler], RawServer]
) -> None:
    def slow_reader(conn: RawConnection) -> None:
        # About 1.6 MB/s: the 10 MB body would take some 6 s to go out.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and conn.recv(16384) and conn.wait(0.01):
            pass

    server = raw_server(slow_reader)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        rank(kind, server.url, 1.0, ["x" * 10_000_000])
    assert time.monotonic() - started < 1.0 + SLACK


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_timeout_of_a_few_milliseconds_reports_the_deadline(
    kind: str, raw_server: Callable[[RawHandler], RawServer]
) -> None:
    def late(conn: RawConnection) -> None:
        while conn.read_request() is not None:
            if not conn.wait(0.05) or not conn.send(http_response(OK)):
                return

    server = raw_server(late)
    for timeout in (0.003, 0.002, 0.001, 0.0005, 1e-6):
        for _ in range(5):
            assert ends_with_the_deadline(kind, server.url, timeout) < SLACK


class SlowResolver(FakeResolver):
    def __init__(self, seconds: float) -> None:
        super().__init__({"slow.example": ["127.0.0.1"]})
        self.seconds = seconds

    def __call__(self, host: str) -> list[str]:
        time.sleep(self.seconds)
        return super().__call__(host)


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_slow_lookup_through_the_resolver_ends_with_the_deadline(
    kind: str, raw_server: Callable[[RawHandler], RawServer]
) -> None:
    server = raw_server(lambda conn: None)
    port = server.url.rsplit(":", 1)[1]
    resolver: Resolver = SlowResolver(8.0)
    elapsed = ends_with_the_deadline(kind, f"http://slow.example:{port}", 0.5, resolver=resolver)
    assert elapsed < 0.5 + SLACK


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_slow_system_lookup_ends_with_the_deadline(
    kind: str, raw_server: Callable[[RawHandler], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No resolver given and no dial guard: the lookup is the operating system's.
    server = raw_server(lambda conn: None)
    port = server.url.rsplit(":", 1)[1]
    real = socket.getaddrinfo

    def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("slow.example", b"slow.example"):
            time.sleep(8.0)
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    elapsed = ends_with_the_deadline(kind, f"http://slow.example:{port}", 0.5)
    assert elapsed < 0.5 + SLACK


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("timeout", [1e10, 1e300, math.inf])
def test_a_huge_timeout_means_no_timeout(
    kind: str, timeout: float, raw_server: Callable[[RawHandler], RawServer]
) -> None:
    def answer(conn: RawConnection) -> None:
        while conn.read_request() is not None:
            if not conn.send(http_response(OK)):
                return

    server = raw_server(answer)
    assert rank(kind, server.url, timeout) == [1.0]


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_nan_timeout_is_refused_naming_the_argument(kind: str) -> None:
    client_type: type[Client] | type[AsyncClient] = Client if kind == "sync" else AsyncClient
    with pytest.raises(ConfigError, match=r"^timeout must be a number of seconds, not nan$"):
        client_type("k", math.nan)
