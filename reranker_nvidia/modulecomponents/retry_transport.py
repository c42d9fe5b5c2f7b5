"""Resending a request whose pooled connection broke, under one deadline.

Port of usecases/modulecomponents/retry_transport.go. As in Go:

- the timeout starts when the request is sent and covers every attempt, the
  pauses between them and the reading of the response body; zero or less
  means no timeout;
- a request is resent, at most twice, after 50 ms and then 250 ms (each plus
  up to 100 % jitter), and only when it went out on a connection taken from
  the pool that broke before any response (EOF, unexpected EOF, connection
  reset, broken pipe): a server closing a connection it thought idle cannot
  have processed the request, while a freshly dialled connection that breaks
  may mean the server already took it;
- a body that cannot be sent twice is never resent;
- after the last resend the error says how many attempts were made.

Go learns whether a connection came from the pool through ``httptrace``;
here httpcore's ``trace`` request extension tells the same: an attempt that
sends its request without having dialled used a pooled connection.
"""

from __future__ import annotations

import contextlib
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

import anyio
import httpcore
import httpx

from reranker_nvidia.modulecomponents._http_errors import chain

RETRY_DELAYS: tuple[float, ...] = (0.050, 0.250)
"""Seconds to wait before the first and the second resend (Go: ``retryDelays``)."""

_DEADLINE: ContextVar[float | None] = ContextVar("reranker_nvidia_deadline", default=None)


class DeadlineExceeded(httpx.TimeoutException):
    """The request's deadline passed (Go: ``context.DeadlineExceeded``)."""

    def __init__(self) -> None:
        super().__init__("context deadline exceeded")


class RetriesExhausted(httpx.TransportError):
    """Every resend failed too; ``str()`` is Go's ``after N attempts: <error>``."""

    def __init__(self, attempts: int, cause: Exception) -> None:
        super().__init__(f"after {attempts} attempts: {cause}")
        self.attempts = attempts
        self.cause = cause


def current_deadline() -> float | None:
    """The ``time.monotonic()`` instant the running request must end by, if any."""
    return _DEADLINE.get()


@contextlib.contextmanager
def deadline_scope(deadline: float | None) -> Iterator[float | None]:
    """Put ``deadline`` in force inside, unless an earlier one already is; yields the one used."""
    outer = _DEADLINE.get()
    if deadline is None or (outer is not None and outer <= deadline):
        yield outer
        return
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def bounded_timeout(timeout: float | None) -> float | None:
    """``timeout`` cut down to what is left before the deadline in force."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = max(deadline - time.monotonic(), 0.0)
    return remaining if timeout is None else min(timeout, remaining)


def jittered(delay: float, rand: Callable[[], float] = random.random) -> float:
    """``delay`` plus up to ``delay`` more, so dropped connections are not resent in step."""
    return delay + rand() * delay


_BROKEN_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionResetError,
    BrokenPipeError,
    EOFError,
    ssl.SSLEOFError,
    anyio.EndOfStream,
    anyio.BrokenResourceError,
)


def is_broken_conn_error(err: BaseException) -> bool:
    """EOF, unexpected EOF, connection reset or broken pipe, anywhere in the cause chain."""
    for link in chain(err):
        if isinstance(link, _BROKEN_CONNECTION_ERRORS):
            return True
        if isinstance(link, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
            text = str(link)
            if "without sending a response" in text or "unexpectedly closed" in text:
                return True
    return False


def _can_resend(request: httpx.Request) -> bool:
    # Go: a request without a body, or one whose body can be produced again.
    return isinstance(request.stream, httpx.ByteStream)


_DIALED = "connection.connect_tcp.started"


def _sent(name: str) -> bool:
    return name.endswith(".send_request_headers.started")


class _ConnReuse:
    """Records, through httpcore's trace events, whether an attempt used a pooled connection."""

    def __init__(self) -> None:
        self.dialed = False
        self.sent = False

    @property
    def reused(self) -> bool:
        return self.sent and not self.dialed

    def note(self, name: str) -> None:
        if name == _DIALED:
            self.dialed = True
        elif _sent(name):
            self.sent = True


class _SyncTrace:
    def __init__(self, reuse: _ConnReuse, chained: Callable[[str, dict[str, Any]], Any] | None):
        self._reuse = reuse
        self._chained = chained

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        self._reuse.note(name)
        if self._chained is not None:
            self._chained(name, info)


class _AsyncTrace:
    def __init__(
        self, reuse: _ConnReuse, chained: Callable[[str, dict[str, Any]], Awaitable[Any]] | None
    ):
        self._reuse = reuse
        self._chained = chained

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self._reuse.note(name)
        if self._chained is not None:
            await self._chained(name, info)


@contextlib.contextmanager
def _traced(request: httpx.Request, trace: Any) -> Iterator[None]:
    original = request.extensions
    request.extensions = {**original, "trace": trace}
    try:
        yield
    finally:
        request.extensions = original


class _DeadlineBoundStream(httpx.SyncByteStream):
    """A response body read under the request's deadline (Go: ``cancelOnClose``)."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        iterator = iter(self._inner)
        while True:
            if time.monotonic() >= self._deadline:
                raise DeadlineExceeded
            with deadline_scope(self._deadline):
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
                except httpx.TimeoutException as err:
                    raise DeadlineExceeded from err
            yield chunk

    def close(self) -> None:
        self._inner.close()


class RetryTransport(httpx.BaseTransport):
    """Go's ``retryTransport`` for the synchronous client.

    ``resends`` counts the resends made so far (Go counts them in the metric
    ``ModuleExternalRequestResends``).
    """

    def __init__(
        self,
        base: httpx.BaseTransport,
        timeout: float = 0.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base = base
        self._timeout = timeout
        self._sleep = sleep
        self.resends = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._timeout <= 0:
            return self._round_trip_with_retries(request)
        with deadline_scope(time.monotonic() + self._timeout) as deadline:
            assert deadline is not None
            try:
                response = self._round_trip_with_retries(request)
            except httpx.TimeoutException as err:
                if isinstance(err, DeadlineExceeded):
                    raise
                raise DeadlineExceeded from err
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _DeadlineBoundStream(response.stream, deadline)
        return response

    def _round_trip_with_retries(self, request: httpx.Request) -> httpx.Response:
        can_resend = _can_resend(request)
        attempt = 0
        while True:
            if attempt > 0:
                self.resends += 1
            reuse = _ConnReuse()
            try:
                with _traced(request, _SyncTrace(reuse, request.extensions.get("trace"))):
                    return self._base.handle_request(request)
            except Exception as err:
                if not can_resend or not reuse.reused or not is_broken_conn_error(err):
                    raise
                if attempt >= len(RETRY_DELAYS):
                    raise RetriesExhausted(attempt + 1, err) from err
                self._wait_before_retry(jittered(RETRY_DELAYS[attempt]))
                attempt += 1

    def _wait_before_retry(self, delay: float) -> None:
        # A deadline that lands in the pause is what ends the call, not the
        # connection error before it.
        deadline = _DEADLINE.get()
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded
            if delay >= remaining:
                self._sleep(remaining)
                raise DeadlineExceeded
        self._sleep(delay)

    def close(self) -> None:
        self._base.close()


class _AsyncDeadlineBoundStream(httpx.AsyncByteStream):
    """The async twin of :class:`_DeadlineBoundStream`."""

    def __init__(self, inner: httpx.AsyncByteStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        iterator = self._inner.__aiter__()
        while True:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded
            with deadline_scope(self._deadline):
                try:
                    with anyio.fail_after(remaining):
                        chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                except (TimeoutError, httpx.TimeoutException) as err:
                    raise DeadlineExceeded from err
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`RetryTransport`, on anyio."""

    def __init__(
        self,
        base: httpx.AsyncBaseTransport,
        timeout: float = 0.0,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._base = base
        self._timeout = timeout
        self._sleep = sleep
        self.resends = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._timeout <= 0:
            return await self._round_trip_with_retries(request)
        with deadline_scope(time.monotonic() + self._timeout) as deadline:
            assert deadline is not None
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0.0)):
                    response = await self._round_trip_with_retries(request)
            except (TimeoutError, httpx.TimeoutException) as err:
                if isinstance(err, DeadlineExceeded):
                    raise
                raise DeadlineExceeded from err
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncDeadlineBoundStream(response.stream, deadline)
        return response

    async def _round_trip_with_retries(self, request: httpx.Request) -> httpx.Response:
        can_resend = _can_resend(request)
        attempt = 0
        while True:
            if attempt > 0:
                self.resends += 1
            reuse = _ConnReuse()
            try:
                with _traced(request, _AsyncTrace(reuse, request.extensions.get("trace"))):
                    return await self._base.handle_async_request(request)
            except Exception as err:
                if not can_resend or not reuse.reused or not is_broken_conn_error(err):
                    raise
                if attempt >= len(RETRY_DELAYS):
                    raise RetriesExhausted(attempt + 1, err) from err
                await self._wait_before_retry(jittered(RETRY_DELAYS[attempt]))
                attempt += 1

    async def _wait_before_retry(self, delay: float) -> None:
        deadline = _DEADLINE.get()
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded
            if delay >= remaining:
                await self._sleep(remaining)
                raise DeadlineExceeded
        await self._sleep(delay)

    async def aclose(self) -> None:
        await self._base.aclose()
