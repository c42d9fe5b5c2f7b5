"""What the client's transport does that the contract protocol cannot see."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reranker_nvidia import ClassBasedModuleConfig, Client
from reranker_nvidia.clients.ranker import parse_rank_response
from tests.support.httptest import Handler, Request, TestServer, Writer

StartServer = Callable[[Handler], TestServer]


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
