"""The one reliance on httpcore's private layout holds on the httpcore installed.

``_transport.h11_state_of`` reads ``HTTPConnection._connection._h11_state`` (no public
name reaches the bytes h11 holds beyond an answer), and answers ``None`` when it finds
nothing there, which would quietly turn off the check that a pooled connection holds
no unsolicited answer. These tests fail instead, on a real connection over loopback,
for each client side: the attribute is there, is h11's state, and is live (it sees the
stray bytes, and the connection expires for them). pyproject.toml pins httpcore to the
releases checked here; docs/vendoring.md says so.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from dataclasses import dataclass
from pathlib import Path

import anyio
import h11
import httpcore
import httpx
import pytest
from packaging.requirements import Requirement

from reranker_nvidia.modulecomponents._transport import (
    AsyncBaseTransport,
    BaseTransport,
    _AsyncConnection,
    _Connection,
    h11_state_of,
)
from tests.support.httptest import RawConnection, http_response, start_raw_server

ROOT = Path(__file__).resolve().parents[2]
ANSWER = http_response(b"first")
STRAY = http_response(b"nobody asked")


Connection = httpcore.ConnectionInterface | httpcore.AsyncConnectionInterface


@dataclass
class Seen:
    """One request's connection, with its answer read but open, and after it was closed."""

    connection: Connection
    body: bytes
    trailing: tuple[bytes, bool]  # h11's, with the answer read
    pooled_after: list[Connection]
    idle_after: bool
    closed_after: bool


def _trailing(connection: Connection) -> tuple[bytes, bool]:
    state = h11_state_of(connection)
    assert isinstance(state, h11.Connection), (
        f"httpcore {httpcore.__version__} keeps no h11 state at "
        "HTTPConnection._connection._h11_state: _transport.h11_state_of needs a new path"
    )
    data, closed = state.trailing_data
    assert isinstance(data, bytes | bytearray)
    assert isinstance(closed, bool)
    return bytes(data), closed


def _sync(url: str) -> Seen:
    transport = BaseTransport()
    with httpx.Client(transport=transport) as client:
        with client.stream("GET", url) as response:
            # The body off the stream itself: Response.read() would close the answer.
            assert isinstance(response.stream, httpx.SyncByteStream)
            body = b"".join(response.stream)
            (connection,) = transport._pool.connections
            trailing = _trailing(connection)
        pooled = list(transport._pool.connections)
        return Seen(
            connection, body, trailing, pooled, connection.is_idle(), connection.is_closed()
        )


def _async(url: str) -> Seen:
    async def main() -> Seen:
        transport = AsyncBaseTransport()

        def pooled() -> list[Connection]:
            return [c for pool in transport._pools for c in pool.connections]

        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", url) as response:
                assert isinstance(response.stream, httpx.AsyncByteStream)
                body = b"".join([chunk async for chunk in response.stream])
                (connection,) = pooled()
                trailing = _trailing(connection)
            return Seen(
                connection, body, trailing, pooled(), connection.is_idle(), connection.is_closed()
            )

    return anyio.run(main)


def _request(side: str, stray: bool) -> Seen:
    """One request over loopback; the server's answer is followed, if ``stray``, by another."""

    def handle(conn: RawConnection) -> None:
        first = True
        while conn.read_request() is not None:
            conn.send(ANSWER + (STRAY if stray and first else b""))  # in one write
            first = False

    server = start_raw_server(handle)
    try:
        return _sync(server.url) if side == "sync" else _async(server.url)
    finally:
        server.close()


@pytest.mark.parametrize("side", ["sync", "async"])
def test_the_pool_builds_our_connections_over_h11_state(side: str) -> None:
    seen = _request(side, stray=False)
    assert seen.body == b"first"
    # create_connection is still the hook the pool builds its connections with
    assert type(seen.connection) is (_Connection if side == "sync" else _AsyncConnection)
    assert seen.trailing == (b"", False)
    assert seen.pooled_after == [seen.connection]  # kept for the next request
    assert seen.idle_after


@pytest.mark.parametrize("side", ["sync", "async"])
def test_the_h11_state_read_is_live(side: str) -> None:
    # The stray answer came in the same read as the real one: it sits in h11's buffer,
    # not in the socket, where only the private path sees it.
    seen = _request(side, stray=True)
    assert seen.body == b"first"
    assert seen.trailing == (STRAY, False)
    assert seen.pooled_after == []  # expired for it, so the pool let it go
    assert seen.closed_after


def test_httpcore_is_pinned_to_the_checked_releases() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [d for d in project["dependencies"] if Requirement(d).name == "httpcore"]
    assert len(pins) == 1, "pyproject.toml pins httpcore (_transport.h11_state_of)"
    (pin,) = pins
    assert any(spec.operator == "<" for spec in Requirement(pin).specifier), f"{pin}: no bound"
    assert importlib.metadata.version("httpcore") in Requirement(pin).specifier
    assert pin in (ROOT / "docs" / "vendoring.md").read_text(encoding="utf-8")
