"""Twin of usecases/modulecomponents/base_client_test.go (``TestNewBaseHttpClient``).

Real loopback servers, as Go's ``httptest.NewServer``, so pooling, resends,
timeouts and the dial guard are exercised for real.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from reranker_nvidia.modulecomponents._http_errors import describe
from reranker_nvidia.modulecomponents.base_client import new_base_http_client
from tests.support.httptest import Request, StartServer, TestServer, Writer

BODY = b'{"text":"hello"}'


def post(client: httpx.Client, url: str) -> httpx.Response:
    return client.post(url, content=BODY)


def pool_conn(client: httpx.Client, url: str) -> None:
    """Leave a connection in the client's idle pool, which the next request reuses."""
    response = post(client, url)
    response.read()


def test_retries_a_dropped_connection(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        if len(server.requests) == 2:
            w.drop()
            return
        w.respond(200, b"second attempt")

    server = http_server(handler)
    with new_base_http_client(30) as client:
        pool_conn(client, server.url)

        res = post(client, server.url)

    assert res.text == "second attempt"
    assert len(server.requests) == 3


def test_stops_resending_once_the_connection_is_freshly_dialed(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        if len(server.requests) == 1:
            w.respond(200, b"pooling the connection")
            return
        w.drop()

    server = http_server(handler)
    with new_base_http_client(30) as client:
        pool_conn(client, server.url)

        with pytest.raises(httpx.TransportError) as caught:
            post(client, server.url)

    assert "EOF" in describe(caught.value, server.url)
    assert len(server.requests) == 3


def blocking_server(
    http_server: StartServer, respond: Callable[[Writer], None] | None
) -> TestServer:
    """Never finishes its response, so only the client's own timeout can end the request."""

    def handler(request: Request, w: Writer) -> None:
        if respond is not None:
            respond(w)
        w.block()

    return http_server(handler)


def test_reports_the_timeout_as_a_deadline(http_server: StartServer) -> None:
    server = blocking_server(http_server, None)
    with new_base_http_client(0.2) as client:
        # The one deadline is the retry transport's; httpx's own timeouts are off.
        assert client.timeout == httpx.Timeout(None)

        with pytest.raises(httpx.TimeoutException) as caught:
            post(client, server.url)

    message = describe(caught.value, server.url)
    assert "context deadline exceeded" in message
    assert "request canceled" not in message


def test_keeps_the_dial_guard_in_place(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
    server = http_server(lambda request, w: w.respond(200))

    with new_base_http_client(30) as client, pytest.raises(httpx.ConnectError) as caught:
        post(client, server.url)

    assert "refusing to dial internal address" in describe(caught.value, server.url)
    assert server.requests == []


def test_keeps_the_timeout_in_force_while_the_body_is_read(http_server: StartServer) -> None:
    def partial(w: Writer) -> None:
        w.write_head(200, {"Content-Length": "100"})
        w.write(b"partial")
        w.flush()

    server = blocking_server(http_server, partial)
    with (
        new_base_http_client(0.2) as client,
        client.stream("POST", server.url, content=BODY) as res,
    ):
        assert res.status_code == 200
        with pytest.raises(httpx.TimeoutException) as caught:
            res.read()

    message = describe(caught.value, server.url)
    assert "context deadline exceeded" in message
    assert "request canceled" not in message
