"""Answers that come early or break off: worded and handled alike by both clients, as Go."""

from __future__ import annotations

import socket
import struct
from typing import Any

import anyio
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import TransportError
from tests.support.httptest import RawConnection, start_raw_server

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
