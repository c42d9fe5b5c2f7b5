"""Answers that come early or break off: worded and handled alike by both clients, as Go."""

from __future__ import annotations

import socket
import struct
from typing import Any

import anyio
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import RerankerError, TransportError, UpstreamError
from tests.support.httptest import RawConnection, http_response, start_raw_server

CLIENTS = ["sync", "async"]


def cfg_for(url: str) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": url})


def rank(kind: str, url: str, documents: list[str], **kw: Any) -> Any:
    if kind == "sync":
        with Client("k", 10, **kw) as client:
            return client.rank("q", documents, cfg_for(url))

    async def main() -> Any:
        async with AsyncClient("k", 10, **kw) as client:
            return await client.rank("q", documents, cfg_for(url))

    return anyio.run(main)


def reset(conn: RawConnection) -> None:
    """Close with a TCP RST rather than a FIN."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_reset_while_the_body_is_read_is_a_read_error(kind: str) -> None:
    # Go: "read response body: read tcp …: read: connection reset by peer". Before, the
    # async client said "read response body: write: broken pipe".
    def half_then_reset(conn: RawConnection) -> None:
        if conn.read_request() is None:
            return
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b'{"rankings": [')
        conn.wait(0.2)
        reset(conn)

    server = start_raw_server(half_then_reset)
    try:
        with pytest.raises(TransportError) as caught:
            rank(kind, server.url, ["a"])
    finally:
        server.close()
    assert str(caught.value) == "read response body: read: connection reset by peer"


TOO_LARGE = b'{"error": "Request Entity Too Large"}'


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("retries", [0, 3])
def test_an_early_413_on_a_large_upload_is_read_and_never_retried(kind: str, retries: int) -> None:
    # The server answers as soon as it has the head, and closes without reading the body,
    # as a proxy with a body limit does. Go reports the 413; before, the async client lost
    # it when its write broke ("write: broken pipe") and, with retries, sent the body again.
    heads: list[bytes] = []

    def refuse_early(conn: RawConnection) -> None:
        head = conn.read_head()
        if head is None:
            return
        heads.append(head)
        conn.send(
            b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(TOO_LARGE)}\r\nConnection: close\r\n\r\n".encode()
            + TOO_LARGE
        )
        conn.wait(0.05)  # then close, the body unread: the client's next write breaks (RST)

    server = start_raw_server(refuse_early)
    documents = ["x" * 100_000] * 40  # 4 MB in one request
    try:
        with pytest.raises(RerankerError) as caught:
            rank(kind, server.url, documents, retries=retries)
    finally:
        server.close()
    assert isinstance(caught.value, UpstreamError), str(caught.value)
    assert caught.value.status == 413
    assert str(caught.value).startswith("connection to NVIDIA API failed with status: 413")
    assert len(heads) == 1


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_large_upload_answered_after_it_is_in_is_read_as_usual(kind: str) -> None:
    # The watch for an early answer must not disturb the ordinary case, on a reused
    # connection too: a server that reads the whole body slowly, then answers.
    def slow_reader(conn: RawConnection) -> None:
        while True:
            head = conn.read_head()
            if head is None:
                return
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            got = len(conn._buffer)
            while got < length:
                conn.wait(0.001)
                chunk = conn.recv(16384)
                if not chunk:
                    return
                got += len(chunk)
            conn._buffer = b""
            body = b'{"rankings": [{"index": 0, "logit": 1.5}]}'
            conn.send(http_response(body, headers={"Content-Type": "application/json"}))

    server = start_raw_server(slow_reader)

    async def twice() -> list[float]:
        async with AsyncClient("k", 10) as client:
            cfg = cfg_for(server.url)
            return [
                (await client.rank("q", ["x" * 1_000_000], cfg)).document_scores[0].score
                for _ in range(2)
            ]

    try:
        if kind == "async":
            scores = anyio.run(twice)
        else:
            with Client("k", 10) as client:
                cfg = cfg_for(server.url)
                scores = [
                    client.rank("q", ["x" * 1_000_000], cfg).document_scores[0].score
                    for _ in range(2)
                ]
    finally:
        server.close()
    assert scores == [1.5, 1.5]
    assert server.connections == 1
