"""D-SSRF-SETTING: the dial guard follows MODULES_VALIDATE_BASE_URL at every request.

The header check reads the setting at every call. In Go the dial guard is
chosen once, when the client is built, so a client built before the setting
was turned on checks header URLs but dials whatever a rebinding name resolves
to. These tests build the client first, then turn validation on (or off), and
use a name that resolves to a public address when the header is checked and
to the loopback test server when it is dialled.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import DialRefusedError
from reranker_nvidia.modulecomponents.base_client import (
    new_async_base_http_client,
    new_base_http_client,
)
from tests.support.httptest import Request, StartServer, TestServer, Writer

REBIND = "rebind.example"


class RebindingResolver:
    """Answers ``first`` to the first lookup and ``then`` to every later one; counts lookups."""

    def __init__(self, first: Sequence[str], then: Sequence[str]) -> None:
        self.first, self.then = list(first), list(then)
        self.lookups: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        return self.first if len(self.lookups) == 1 else self.then


def ranked(request: Request, w: Writer) -> None:
    passages = request.json()["passages"]
    w.respond(200, {"rankings": [{"index": i, "logit": 1.0} for i in range(len(passages))]})


def port_of(server: TestServer) -> int:
    port = httpx.URL(server.url).port
    assert port is not None
    return port


def refusal(port: int) -> str:
    address = f"127.0.0.1:{port}"
    return f'dial tcp {address}: refusing to dial internal address "{address}"'


def test_a_header_url_rebinding_to_loopback_is_refused_by_a_client_built_before(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server(ranked)
    port = port_of(server)
    resolver = RebindingResolver(["93.184.215.14"], ["127.0.0.1"])
    monkeypatch.delenv("MODULES_VALIDATE_BASE_URL", raising=False)
    with Client("k", 5, resolver=resolver) as client:
        monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
        header = {"X-Nvidia-Baseurl": f"https://{REBIND}:{port}"}
        with pytest.raises(DialRefusedError) as caught:
            client.rank("q", ["a"], headers=header)
    assert resolver.lookups == [REBIND, REBIND]  # the header check, then the dial
    assert str(caught.value).endswith(refusal(port)), str(caught.value)
    assert server.requests == []


def test_a_class_base_url_on_loopback_is_refused_by_a_client_built_before(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server(ranked)
    port = port_of(server)
    resolver = RebindingResolver(["127.0.0.1"], ["127.0.0.1"])
    cfg = ClassBasedModuleConfig.for_settings(
        "reranker-nvidia", {"baseURL": f"http://{REBIND}:{port}"}
    )
    monkeypatch.delenv("MODULES_VALIDATE_BASE_URL", raising=False)
    with Client("k", 5, resolver=resolver) as client:
        monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
        with pytest.raises(DialRefusedError) as caught:
            client.rank("q", ["a"], cfg)
    assert str(caught.value).endswith(refusal(port)), str(caught.value)
    assert server.requests == []


def test_a_connection_pooled_while_off_is_not_used_once_validation_is_on(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Validation off: the name may reach the loopback server, and the connection is pooled.
    # Turned on: the pooled connection was never checked, so it must not carry the request.
    server = http_server(lambda request, w: w.respond(200, b"ok"))
    port = port_of(server)
    resolver = RebindingResolver(["127.0.0.1"], ["127.0.0.1"])
    url = f"http://{REBIND}:{port}/"
    monkeypatch.delenv("MODULES_VALIDATE_BASE_URL", raising=False)
    with new_base_http_client(30, resolver=resolver) as client:
        assert client.post(url, content=b"{}").text == "ok"
        monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
        with pytest.raises(httpx.ConnectError) as caught:
            client.post(url, content=b"{}")
        assert str(caught.value) == refusal(port)
        monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "false")
        assert client.post(url, content=b"{}").text == "ok"
    assert len(server.requests) == 2


def test_a_client_built_with_validation_on_dials_freely_once_it_is_off(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same rule the other way round: the header check is off, so is the guard.
    server = http_server(ranked)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
    with Client("k") as client:
        with pytest.raises(DialRefusedError):
            client.rank("q", ["a"], cfg)
        monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "off")
        assert [d.score for d in client.rank("q", ["a"], cfg).document_scores] == [1.0]
    assert len(server.requests) == 1


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_async_client_built_before_refuses_a_rebinding_header_url(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server(ranked)
    port = port_of(server)
    resolver = RebindingResolver(["93.184.215.14"], ["127.0.0.1"])
    monkeypatch.delenv("MODULES_VALIDATE_BASE_URL", raising=False)
    async with AsyncClient("k", 5, resolver=resolver) as client:
        monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "1")
        header = {"X-Nvidia-Baseurl": f"https://{REBIND}:{port}"}
        with pytest.raises(DialRefusedError) as caught:
            await client.rank("q", ["a"], headers=header)
    assert str(caught.value).endswith(refusal(port)), str(caught.value)
    assert server.requests == []


@pytest.mark.anyio
async def test_an_async_connection_pooled_while_off_is_not_used_once_validation_is_on(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server(lambda request, w: w.respond(200, b"ok"))
    port = port_of(server)
    resolver = RebindingResolver(["127.0.0.1"], ["127.0.0.1"])
    url = f"http://{REBIND}:{port}/"
    monkeypatch.delenv("MODULES_VALIDATE_BASE_URL", raising=False)
    async with new_async_base_http_client(30, resolver=resolver) as client:
        assert (await client.post(url, content=b"{}")).text == "ok"
        monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
        with pytest.raises(httpx.ConnectError) as caught:
            await client.post(url, content=b"{}")
        assert str(caught.value) == refusal(port)
    assert len(server.requests) == 1
