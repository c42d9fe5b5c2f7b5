"""The decoded response body is capped, in both clients, whatever the framing or encoding."""

from __future__ import annotations

import gzip
import time
from collections.abc import Sequence
from typing import Any

import anyio
import httpx
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import ResponseTooLargeError, TransportError
from reranker_nvidia.modulecomponents._deadline import DEFAULT_MAX_RESPONSE_BYTES
from tests.support.httptest import RawConnection, http_response, start_raw_server

CLIENTS = ["sync", "async"]
CAP = 1 << 20


def cfg_for(url: str) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": url})


def rank(kind: str, url: str, timeout: float, documents: Sequence[str] = ("a",), **kw: Any) -> Any:
    if kind == "sync":
        with Client("k", timeout, **kw) as client:
            return client.rank("q", documents, cfg_for(url))

    async def main() -> Any:
        async with AsyncClient("k", timeout, **kw) as client:
            return await client.rank("q", documents, cfg_for(url))

    return anyio.run(main)


def endless(conn: RawConnection) -> None:
    if conn.read_request() is None:
        return
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.send(b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b'{"rankings": [' + b'{"index": 0, "logit": 1.0},' * 2000
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and conn.send(frame):
        pass


def gzip_bomb(conn: RawConnection) -> None:
    body = gzip.compress(b'{"rankings": [' + b" " * 100_000_000 + b"]}", compresslevel=9)
    while conn.read_request() is not None:
        if not conn.send(http_response(body, headers={"Content-Encoding": "gzip"})):
            return


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_200_body_that_never_ends_is_refused_at_the_cap(kind: str) -> None:
    server = start_raw_server(endless)
    try:
        started = time.monotonic()
        with pytest.raises(ResponseTooLargeError) as caught:
            rank(kind, server.url, 30, max_response_bytes=CAP)
        assert time.monotonic() - started < 10  # long before the 30 s timeout
    finally:
        server.close()
    assert isinstance(caught.value, TransportError)
    assert str(caught.value) == (
        f"read response body: the response body is larger than max_response_bytes ({CAP})"
    )


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_gzip_bomb_is_refused_at_the_cap_of_its_decoded_size(kind: str) -> None:
    server = start_raw_server(gzip_bomb)
    try:
        with pytest.raises(ResponseTooLargeError):
            rank(kind, server.url, 30, max_response_bytes=CAP)
    finally:
        server.close()


def test_the_cap_is_on_the_decoded_size_not_the_wire_size() -> None:
    # 100 KB on the wire, 2 MB decoded: refused with a 1 MB cap, read with the default cap.
    decoded = b'{"rankings": [{"index": 0, "logit": 1.5}]' + b" " * 2_000_000 + b"}"
    wire = gzip.compress(decoded)
    assert len(wire) < CAP < len(decoded) < DEFAULT_MAX_RESPONSE_BYTES

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=wire)

    with (
        Client("k", transport=httpx.MockTransport(handler), max_response_bytes=CAP) as client,
        pytest.raises(ResponseTooLargeError),
    ):
        client.rank("q", ["a"])
    with Client("k", transport=httpx.MockTransport(handler)) as client:
        assert client.rank("q", ["a"]).document_scores[0].score == 1.5


def test_the_default_cap_is_documented() -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 8 * 1024 * 1024
    assert "8 MiB" in (Client.__doc__ or "")


@pytest.mark.parametrize("cap", [0, -1])
def test_a_cap_below_one_byte_is_refused(cap: int) -> None:
    from reranker_nvidia.errors import ConfigError

    with pytest.raises(ConfigError, match="max_response_bytes must be at least 1"):
        Client("k", max_response_bytes=cap)
