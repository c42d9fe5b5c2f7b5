"""Twin of usecases/modulecomponents/retry_transport_test.go (``TestRetryTransport``, ``TestJittered``).

Go's ``fakeRoundTripper`` reports through ``httptrace.GotConn`` whether each
attempt's connection came from the pool; the fake transport here emits the
httpcore trace events that say the same (a dial, then the request sent).
Go's metric ``ModuleExternalRequestResends`` is the transport's ``resends``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from reranker_nvidia.modulecomponents.retry_transport import (
    DeadlineExceeded,
    RetriesExhausted,
    RetryTransport,
    deadline_scope,
    jittered,
)


def eof() -> httpx.TransportError:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.")


def unexpected_eof() -> httpx.TransportError:
    return httpx.RemoteProtocolError("peer unexpectedly closed connection")


def conn_reset() -> httpx.TransportError:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError as err:
        error = httpx.ReadError("[Errno 104] Connection reset by peer")
        error.__cause__ = err
        return error


def broken_pipe() -> httpx.TransportError:
    error = httpx.WriteError("[Errno 32] Broken pipe")
    error.__cause__ = BrokenPipeError(32, "Broken pipe")
    return error


def cert_err() -> httpx.TransportError:
    return httpx.ConnectError("x509: certificate signed by unknown authority")


@dataclass
class FakeRoundTripper(httpx.BaseTransport):
    """errs[i] fails attempt i+1 (None or past the end: 200); reused_conns[i] likewise (default: pooled)."""

    errs: list[httpx.TransportError | None] = field(default_factory=list)
    reused_conns: list[bool] = field(default_factory=list)
    attempts: int = 0
    bodies: list[bytes] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        trace = request.extensions.get("trace")
        if trace is not None:
            if not self._conn_reused():
                trace("connection.connect_tcp.started", {})
            trace("http11.send_request_headers.started", {})
        self.bodies.append(b"".join(request.stream))  # type: ignore[arg-type]
        i = self.attempts - 1
        if i < len(self.errs) and self.errs[i] is not None:
            raise self.errs[i]  # type: ignore[misc]
        return httpx.Response(200)

    def _conn_reused(self) -> bool:
        i = self.attempts - 1
        return self.reused_conns[i] if i < len(self.reused_conns) else True


class OneShotStream(httpx.SyncByteStream):
    """A body that can be read only once (Go: a request whose GetBody is nil)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._data


HELLO = b'{"text":"hello"}'


@dataclass
class Case:
    name: str
    errs: list[httpx.TransportError | None] = field(default_factory=list)
    reused_conns: list[bool] = field(default_factory=list)
    body: bytes | None = HELLO
    body_cannot_resend: bool = False
    cancel_ctx: bool = False
    want_attempts: int = 1
    want_err: type[Exception] | None = None
    want_text: str | None = None


CASES = [
    Case("no retry when the first attempt succeeds", want_attempts=1),
    Case("retries a bare EOF", errs=[eof()], want_attempts=2),
    Case("retries an unexpected EOF", errs=[unexpected_eof()], want_attempts=2),
    Case("retries a connection reset", errs=[conn_reset()], want_attempts=2),
    Case("retries a broken pipe", errs=[broken_pipe()], want_attempts=2),
    Case("retries a request without a body", errs=[eof()], body=None, want_attempts=2),
    Case(
        "retries twice before giving up",
        errs=[eof(), conn_reset(), eof()],
        want_attempts=3,
        want_err=RetriesExhausted,
        want_text="after 3 attempts: Server disconnected without sending a response.",
    ),
    Case("recovers on the last retry", errs=[eof(), eof()], want_attempts=3),
    Case(
        "does not retry an error unrelated to the connection",
        errs=[cert_err()],
        want_attempts=1,
        want_err=httpx.ConnectError,
    ),
    Case(
        "does not retry a connection that did not come out of the pool",
        errs=[eof()],
        reused_conns=[False],
        want_attempts=1,
        want_err=httpx.RemoteProtocolError,
    ),
    Case(
        "stops once a resend dials a fresh connection",
        errs=[eof(), eof()],
        reused_conns=[True, False],
        want_attempts=2,
        want_err=httpx.RemoteProtocolError,
    ),
    Case(
        "does not retry a body it cannot resend",
        errs=[eof()],
        body_cannot_resend=True,
        want_attempts=1,
        want_err=httpx.RemoteProtocolError,
    ),
    # Go cancels the request's context; a synchronous Python call has no
    # cancellation, so the twin is a deadline that has already passed: the
    # pause before the resend ends the call.
    Case(
        "does not retry a cancelled request",
        errs=[eof()],
        cancel_ctx=True,
        want_attempts=1,
        want_err=DeadlineExceeded,
    ),
]


@pytest.mark.parametrize("test", CASES, ids=[case.name for case in CASES])
def test_retry_transport(test: Case) -> None:
    base = FakeRoundTripper(errs=test.errs, reused_conns=test.reused_conns)
    slept: list[float] = []
    transport = RetryTransport(base, sleep=slept.append)
    if test.body is None:
        request = httpx.Request("POST", "http://localhost/vectors")
    elif test.body_cannot_resend:
        request = httpx.Request("POST", "http://localhost/vectors", stream=OneShotStream(test.body))
    else:
        request = httpx.Request("POST", "http://localhost/vectors", content=test.body)

    deadline = time.monotonic() - 1 if test.cancel_ctx else None
    with deadline_scope(deadline):
        if test.want_err is not None:
            with pytest.raises(test.want_err) as caught:
                transport.handle_request(request)
            if test.want_text is not None:
                assert str(caught.value) == test.want_text
        else:
            res = transport.handle_request(request)
            assert res.status_code == 200

    assert base.attempts == test.want_attempts
    assert transport.resends == test.want_attempts - 1
    # A retried attempt must not send different input than the caller passed.
    if test.body is not None:
        assert len(base.bodies) == test.want_attempts
        assert all(body == test.body for body in base.bodies)
    # Each pause is one of Go's delays plus up to 100 % jitter.
    for pause, delay in zip(slept, (0.050, 0.250), strict=False):
        assert delay <= pause < 2 * delay


def test_jittered() -> None:
    delay = 0.1
    seen = set()
    for _ in range(100):
        got = jittered(delay)
        assert got >= delay
        assert got < 2 * delay
        seen.add(got)
    # Without a spread every connection dropped at the same moment is resent at the same moment.
    assert len(seen) > 1
