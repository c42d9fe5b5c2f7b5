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

Python only: a timeout of NaN is refused and one of 31 years or more means
none (the OS cannot wait that long); the body is read under a size cap and a
gzip or deflate body, every layer of it, inflated by the body stream itself
(``_deadline.py``).

Go learns whether a connection came from the pool through ``httptrace``;
here httpcore's ``trace`` request extension tells the same: an attempt that
sends its request without having dialled used a pooled connection.

Go's ``roundTripWithRetries`` is written once, as the generator
:func:`round_trip_with_retries`; the synchronous and the async transport
only drive it (``_retry_drivers.py``). The deadline (Go's context) and the
deadline-bound body (Go's ``cancelOnClose``) are in ``_deadline.py``.
"""

from __future__ import annotations

import contextlib
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator

import httpcore
import httpx

from ._deadline import (
    AsyncDeadlineBoundStream,
    DeadlineBoundStream,
    DeadlineExceeded,
    bounded_timeout,
    checked_max_response_bytes,
    checked_timeout,
    current_deadline,
    deadline_errors,
    deadline_scope,
    take_encoding,
)
from ._http_errors import chain
from ._retry_drivers import (
    AsyncTrace,
    ConnReuse,
    Flow,
    Pause,
    SyncTrace,
    drive,
    drive_async,
)

__all__ = [
    "RETRY_DELAYS",
    "AsyncRetryTransport",
    "DeadlineExceeded",
    "RetriesExhausted",
    "RetryTransport",
    "bounded_timeout",
    "current_deadline",
    "deadline_scope",
    "is_broken_conn_error",
    "jittered",
    "round_trip_with_retries",
    "wait_before_retry",
    "with_conn_reuse_trace",
]

RETRY_DELAYS: tuple[float, ...] = (0.050, 0.250)
"""Seconds to wait before the first and the second resend (Go: ``retryDelays``)."""


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
        max_response_bytes: int | None = None,
    ) -> None:
        self._base = base
        self._timeout = checked_timeout(timeout)
        self._sleep = sleep
        self._cap = (
            None if max_response_bytes is None else checked_max_response_bytes(max_response_bytes)
        )
        self.resends = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Go's ``RoundTrip``."""
        ends = time.monotonic() + self._timeout if self._timeout > 0 else None
        with deadline_scope(ends) as deadline, deadline_errors(httpx.TimeoutException):
            response = self._round_trip_with_retries(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = DeadlineBoundStream(  # Go: cancelOnClose
            response.stream, deadline, inflater=take_encoding(response, self._cap), limit=self._cap
        )
        return response

    def _round_trip_with_retries(self, request: httpx.Request) -> httpx.Response:
        flow = round_trip_with_retries(request, self._count_resend, asynchronous=False)
        return drive(flow, self._base.handle_request, self._sleep)

    def _count_resend(self) -> None:
        self.resends += 1

    def close(self) -> None:
        self._base.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`RetryTransport`, on anyio."""

    def __init__(
        self,
        base: httpx.AsyncBaseTransport,
        timeout: float = 0.0,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        import anyio  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

        self._base = base
        self._timeout = checked_timeout(timeout)
        self._sleep = anyio.sleep if sleep is None else sleep
        self._cap = (
            None if max_response_bytes is None else checked_max_response_bytes(max_response_bytes)
        )
        self.resends = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Go's ``RoundTrip``."""
        import anyio  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

        if self._timeout <= 0:
            response = await self._round_trip_with_retries(request)
            deadline = None
        else:
            with deadline_scope(time.monotonic() + self._timeout) as deadline:
                assert deadline is not None
                with (
                    deadline_errors(TimeoutError, httpx.TimeoutException),
                    anyio.fail_after(max(deadline - time.monotonic(), 0.0)),
                ):
                    response = await self._round_trip_with_retries(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = AsyncDeadlineBoundStream(  # Go: cancelOnClose
            response.stream, deadline, inflater=take_encoding(response, self._cap), limit=self._cap
        )
        return response

    async def _round_trip_with_retries(self, request: httpx.Request) -> httpx.Response:
        flow = round_trip_with_retries(request, self._count_resend, asynchronous=True)
        return await drive_async(flow, self._base.handle_async_request, self._sleep)

    def _count_resend(self) -> None:
        self.resends += 1

    async def aclose(self) -> None:
        await self._base.aclose()


class RetriesExhausted(httpx.TransportError):
    """Every resend failed too; ``str()`` is Go's ``after N attempts: <error>``."""

    def __init__(self, attempts: int, cause: Exception) -> None:
        super().__init__(f"after {attempts} attempts: {cause}")
        self.attempts = attempts
        self.cause = cause


def round_trip_with_retries(
    request: httpx.Request, count_resend: Callable[[], None], *, asynchronous: bool
) -> Flow[httpx.Response]:
    """Go's ``roundTripWithRetries``, for both transports: yields each attempt and pause."""
    # Go: a request without a body, or one whose body can be produced again.
    can_resend = isinstance(request.stream, httpx.ByteStream)

    i = 0
    while True:
        if i > 0:
            count_resend()

        reused = ConnReuse()
        try:
            with with_conn_reuse_trace(request, reused, asynchronous=asynchronous):
                response = yield request
        except Exception as err:
            # Only a request sent on a pooled connection is resent: a server
            # closing a connection it considered idle cannot have processed it,
            # while a break on a freshly dialled one may mean the origin
            # already took the request.
            if not can_resend or not reused.reused or not is_broken_conn_error(err):
                raise
            if i >= len(RETRY_DELAYS):
                # Without the count a caller cannot tell the request was resent.
                raise RetriesExhausted(i + 1, err) from err

            # A deadline landing in the pause is what ends the call, not the
            # connection error before it.
            yield from wait_before_retry(jittered(RETRY_DELAYS[i]))
        else:
            assert response is not None
            return response

        # httpx's ByteStream can be read again, so unlike Go no fresh body is taken.
        i += 1


@contextlib.contextmanager
def with_conn_reuse_trace(
    request: httpx.Request, reused: ConnReuse, *, asynchronous: bool
) -> Iterator[None]:
    """``request`` set up, inside, to record in ``reused`` whether it goes out on a pooled
    connection; a trace the caller installed still sees every event."""
    chained = request.extensions.get("trace")
    trace = AsyncTrace(reused, chained) if asynchronous else SyncTrace(reused, chained)
    original = request.extensions
    request.extensions = {**original, "trace": trace}
    try:
        yield
    finally:
        request.extensions = original


def jittered(delay: float, rand: Callable[[], float] = random.random) -> float:
    """``delay`` plus up to ``delay`` more, so dropped connections are not resent in step."""
    return delay + rand() * delay


_BROKEN_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionResetError,
    BrokenPipeError,
    EOFError,
    ssl.SSLEOFError,
)
"""With anyio's ``EndOfStream`` and ``BrokenResourceError``, looked up when an error is judged."""


def is_broken_conn_error(err: BaseException) -> bool:
    """EOF, unexpected EOF, connection reset or broken pipe, anywhere in the cause chain."""
    import anyio  # noqa: PLC0415 - only for a failed request, never on the sync success path

    broken = (*_BROKEN_CONNECTION_ERRORS, anyio.EndOfStream, anyio.BrokenResourceError)
    for link in chain(err):
        if isinstance(link, broken):
            return True
        if isinstance(link, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
            text = str(link)
            if "without sending a response" in text or "unexpectedly closed" in text:
                return True
    return False


def wait_before_retry(delay: float) -> Flow[None]:
    """Pause ``delay`` seconds, or raise :class:`DeadlineExceeded` if the deadline comes first."""
    deadline = current_deadline()
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded
        if delay >= remaining:
            yield Pause(remaining)
            raise DeadlineExceeded
    yield Pause(delay)
