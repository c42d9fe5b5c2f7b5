"""Slow or numerous clients cannot starve the server: a header-read timeout, a connection limit.

The attack: 1,100 connections that each send a header byte every 5 s used up the descriptors
of an emulator under ``ulimit -n 1024``, and ordinary requests timed out. The tests lower the
limits (a 0.4 s head timeout, 4 connections) instead of opening 1,100 sockets; every loop is
bounded in count and in time, and every socket is on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from nim_emulator import EmulatorConfig, running_emulator
from nim_emulator._config import default_max_connections
from nim_emulator._server import BUSY_RESPONSE

HEAD_TIMEOUT = 0.4
LIMIT = 4
RANKING = {
    "model": "nvidia/llama-nemotron-rerank-1b-v2",
    "query": {"text": "q"},
    "passages": [{"text": "p"}],
}


@contextlib.contextmanager
def emulator(**settings: object) -> Iterator[tuple[str, tuple[str, int]]]:
    config = EmulatorConfig(header_timeout_s=HEAD_TIMEOUT, max_connections=LIMIT, **settings)  # type: ignore[arg-type]
    with running_emulator(config) as url:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1"
        yield url, (parts.hostname, parts.port or 80)


def slow_client(address: tuple[str, int]) -> socket.socket:
    """A connection that has sent part of a request head and no more."""
    sock = socket.create_connection(address, timeout=5)
    sock.sendall(b"POST /v1/ranking HTTP/1.1\r\nHost: x\r\n")
    return sock


def closed_within(sock: socket.socket, seconds: float, *, trickle: bool) -> float | None:
    """Seconds until the server closes ``sock`` (None if it stays open ``seconds``).

    With ``trickle``, one more header byte is sent every 50 ms, as a slowloris client does.
    """
    started = time.monotonic()
    sock.settimeout(0.05)
    for _ in range(int(seconds / 0.05) + 1):  # bounded in count, and so in time
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionError:
            return time.monotonic() - started
        if trickle:
            try:
                sock.sendall(b"X")
            except OSError:
                return time.monotonic() - started
        if time.monotonic() - started > seconds:
            break
    return None


@pytest.mark.parametrize("trickle", [False, True], ids=["silent", "one-byte-at-a-time"])
def test_a_connection_that_never_finishes_its_head_is_closed(trickle: bool) -> None:
    with emulator() as (_, address), contextlib.closing(slow_client(address)) as sock:
        took = closed_within(sock, 3.0, trickle=trickle)
    assert took is not None, "the server kept a slow-header connection open for 3 s"
    assert HEAD_TIMEOUT * 0.5 <= took <= HEAD_TIMEOUT + 1.5


def test_past_the_limit_a_connection_is_answered_503_and_closed() -> None:
    with emulator() as (_, address), contextlib.ExitStack() as stack:
        for _ in range(LIMIT):
            stack.enter_context(contextlib.closing(slow_client(address)))
        extra = stack.enter_context(contextlib.closing(socket.create_connection(address, 5)))
        received = b""
        for _ in range(100):  # at most 100 reads of up to 5 s each; the answer is one
            chunk = extra.recv(4096)
            if not chunk:
                break
            received += chunk
    assert received == BUSY_RESPONSE
    head, _, answer = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"content-type: application/problem+json" in head
    assert answer == b'{"type":"about:blank","title":"Service Unavailable","status":503}\n'


def test_ordinary_requests_are_served_again_once_slow_clients_time_out() -> None:
    with emulator() as (url, address), contextlib.ExitStack() as stack:
        for _ in range(LIMIT):
            stack.enter_context(contextlib.closing(slow_client(address)))
        time.sleep(HEAD_TIMEOUT + 0.3)
        with httpx.Client(base_url=url, timeout=5) as client:
            response = client.post("/v1/ranking", json=RANKING)
    assert response.status_code == 200


def test_the_head_timeout_never_cuts_a_request_being_answered() -> None:
    # The answer takes longer than the head timeout: the head arrived, so the timer is off.
    with (
        emulator(latency_ms=HEAD_TIMEOUT * 2000) as (url, _),
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        first = client.post("/v1/ranking", json=RANKING)
        second = client.post("/v1/ranking", json=RANKING)  # the same pooled connection
    assert (first.status_code, second.status_code) == (200, 200)


def test_the_connection_limit_defaults_to_the_descriptor_limit_less_64(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (1024, 4096))
    assert default_max_connections() == 960
    assert EmulatorConfig().connection_limit() == 960
    assert EmulatorConfig(max_connections=7).connection_limit() == 7


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"header_timeout_s": 0}, "header_timeout_s must be a finite number > 0, not 0"),
        ({"header_timeout_s": float("inf")}, "header_timeout_s must be a finite number > 0"),
        ({"max_connections": 0}, "max_connections must be a whole number >= 1 or None, not 0"),
    ],
)
def test_the_guards_refuse_unusable_values(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        EmulatorConfig(**settings)  # type: ignore[arg-type]
