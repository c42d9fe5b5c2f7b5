"""Shared fixtures: a clean environment and no internet for every test, and loopback servers."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.httptest import Handler, StartServer, TestServer, start_server

_ENVIRONMENT = ("NVIDIA_APIKEY", "MODULES_CLIENT_TIMEOUT", "MODULES_VALIDATE_BASE_URL")

# Read before any test clears it: only tests marked `live` may use it.
LIVE_API_KEY = os.environ.get("NVIDIA_APIKEY", "")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_destination(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0]
    try:
        loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise OSError(f"tests may not reach the network: connect to {address!r} refused")


def _guarded_connect(sock: socket.socket, address: Any) -> None:
    _check_destination(sock, address)
    _real_connect(sock, address)


def _guarded_connect_ex(sock: socket.socket, address: Any) -> int:
    _check_destination(sock, address)
    return _real_connect_ex(sock, address)


@pytest.fixture(autouse=True)
def no_internet(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every socket connection goes to loopback, except in tests marked ``live``."""
    if request.node.get_closest_marker("live"):
        return
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's NVIDIA key or Weaviate settings unless it sets them."""
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def http_server() -> Iterator[StartServer]:
    """Start loopback servers (Go's ``httptest.NewServer``); all are closed after the test."""
    servers: list[TestServer] = []

    def start(handler: Handler) -> TestServer:
        server = start_server(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
