"""Shared fixtures: a clean environment for every test, and loopback servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.httptest import Handler, TestServer, start_server

_ENVIRONMENT = ("NVIDIA_APIKEY", "MODULES_CLIENT_TIMEOUT", "MODULES_VALIDATE_BASE_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's NVIDIA key or Weaviate settings unless it sets them."""
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def http_server() -> Iterator[Callable[[Handler], TestServer]]:
    """Start loopback servers (Go's ``httptest.NewServer``); all are closed after the test."""
    servers: list[TestServer] = []

    def start(handler: Handler) -> TestServer:
        server = start_server(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
