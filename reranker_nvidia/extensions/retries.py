"""Retrying a chunk's request on a transient answer: the ``retries`` extension (D-EXT-RETRIES).

Python only; Go sends each chunk once (its retry transport only resends a
request whose pooled connection broke before any answer, and that stays as
it is, below this). With ``retries=N`` a chunk is tried up to ``N + 1``
times:

- an :class:`UpstreamError` with status 429, 500, 502, 503 or 504 is retried;
  no other status is (a 4xx will answer the same again);
- a :class:`TransportError` is retried when the connection failed or broke:
  refused, reset, closed before or during the answer. Reranking has no side
  effect, so sending it again is safe even when the server may have read the
  first one. Never retried: the deadline passing (there is no time left), the
  SSRF dial guard, a body over ``max_response_bytes``, a TLS certificate
  refused, and anything that is not about the connection (those would fail
  the same way again);
- the pause before retry ``n`` (from 0) is AWS's "full jitter",
  ``random(0, min(max_delay, base_delay * 2**n))``, unless the answer carried
  ``Retry-After`` (seconds, or an HTTP date), which is then waited exactly, up to
  :data:`MAX_RETRY_AFTER_S` (five minutes): a longer ask is not waited at all, with or
  without a timeout, and the error in hand is raised at once;
- every attempt and every pause lies inside one deadline of ``timeout``
  seconds, put in force with ``deadline_scope`` (the transport keeps the
  earlier of its own and this one). A pause that would not end before the
  deadline is not taken: the error in hand is raised at once;
- the error that ends a call that was tried more than once says so: its
  message ends with `` (after N attempts)``; ``err.attempts`` is set on every
  error when retries are on;
- Ctrl-C (``KeyboardInterrupt``) or a cancellation during a pause ends it at once.

The policy is a flow that wraps Go's flow, written once for both clients.

``RetryPolicy(0)``, the default, runs ``attempt`` once and changes nothing.
"""

from __future__ import annotations

import email.utils
import math
import random
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import TypeVar

import anyio
import httpcore
import httpx

from ..errors import (
    DeadlineExceededError,
    DialRefusedError,
    RerankerError,
    ResponseTooLargeError,
    TransportError,
    UpstreamError,
)
from ..modulecomponents._deadline import deadline_scope
from ..modulecomponents._http_errors import chain
from ..modulecomponents._retry_drivers import Pause
from ._flows import Flow

__all__ = [
    "MAX_RETRY_AFTER_S",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "is_retryable",
    "retry_after_seconds",
]

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""The statuses that say "try again later"; every other one is final."""

MAX_RETRY_AFTER_S = 300.0
"""The longest ``Retry-After`` waited (D-EXT-RETRIES). A server asking for more (a quota
that resets in hours, a far date, ``1e9``) gets its answer at once, as a pause past the
deadline does: the call would look hung, and the OS cannot sleep past ~9.2e9 s at all."""

_BROKEN_CONNECTION: tuple[type[BaseException], ...] = (
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpcore.ConnectError,
    httpcore.ReadError,
    httpcore.WriteError,
    httpcore.RemoteProtocolError,
    ConnectionError,  # refused, reset, aborted, broken pipe
    EOFError,
    ssl.SSLEOFError,
    anyio.EndOfStream,
    anyio.BrokenResourceError,
)


def is_retryable(err: BaseException) -> bool:
    """Whether ``err``, raised by one attempt, may be followed by another."""
    if isinstance(err, UpstreamError):
        return err.status in RETRYABLE_STATUSES
    if not isinstance(err, TransportError) or isinstance(
        err, DeadlineExceededError | DialRefusedError | ResponseTooLargeError
    ):
        return False
    links = list(chain(err))[1:]
    if any(isinstance(link, ssl.SSLCertVerificationError) for link in links):
        return False
    return any(isinstance(link, _BROKEN_CONNECTION) for link in links)


def retry_after_seconds(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """The wait ``Retry-After`` asks for, in seconds (0 for a date past); ``None`` if none.

    The value is whole seconds (a fraction is taken too) or an HTTP date;
    anything else is ignored.
    """
    value = headers.get("retry-after")
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:  # "-0000": the RFC's way to say UTC
            when = when.replace(tzinfo=UTC)
        return max(when.timestamp() - now(), 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class RetryPolicy:
    """Runs one chunk's request, again after a transient failure, inside one deadline.

    Written once, as a flow (:meth:`flow`): the pauses are yielded, so the
    synchronous client sleeps them and the async one awaits them. ``rng`` draws
    the jitter in [0, 1); ``clock`` (the deadline's clock, ``time.monotonic``)
    and ``wall_clock`` (for a ``Retry-After`` date) may be swapped by tests.
    """

    __slots__ = ("_clock", "_rng", "_wall_clock", "base_delay", "max_delay", "retries")

    def __init__(
        self,
        retries: int,
        *,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries}")
        self.retries = retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._rng = rng
        self._clock = clock
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(retries={self.retries}, base_delay={self.base_delay}, "
            f"max_delay={self.max_delay})"
        )

    def flow(self, attempt: Callable[[], Flow[T]], *, timeout: float | None) -> Flow[T]:
        """``attempt()``'s flow, run again as the policy says; its result or the last error."""
        if self.retries == 0:
            return (yield from attempt())
        deadline = self._deadline(timeout)
        with deadline_scope(deadline):
            made = 0
            while True:
                made += 1
                try:
                    return (yield from attempt())
                except RerankerError as err:
                    pause = self._pause(err, made, deadline)
                    if pause is None:
                        _count(err, made)
                        raise
                yield Pause(pause)

    def _deadline(self, timeout: float | None) -> float | None:
        """When the whole call must end: ``timeout`` seconds from now; none for ``None`` or 0."""
        if timeout is None or not timeout > 0 or math.isinf(timeout):
            return None
        return self._clock() + timeout

    def _pause(self, err: RerankerError, made: int, deadline: float | None) -> float | None:
        """How long to wait before attempt ``made + 1``; ``None`` to give up with ``err``."""
        if made > self.retries or not is_retryable(err):
            return None
        asked = (
            retry_after_seconds(err.headers, now=self._wall_clock)
            if isinstance(err, UpstreamError)
            else None
        )
        if asked is None:
            ceiling = min(self.max_delay, self.base_delay * 2.0 ** (made - 1))
            pause = float(self._rng()) * ceiling
        elif asked > MAX_RETRY_AFTER_S:
            return None  # not worth waiting (or not even possible): the error in hand
        else:
            pause = asked
        if deadline is not None and self._clock() + pause >= deadline:
            return None  # the wait would outlast the deadline: the error in hand is the answer
        return pause


def _count(err: RerankerError, made: int) -> None:
    """Set ``err.attempts`` and, after more than one attempt, end its text with the count."""
    setattr(err, "attempts", made)  # noqa: B010 - the attribute is not declared on every error
    if made > 1 and err.args and isinstance(err.args[0], str):
        err.args = (f"{err.args[0]} (after {made} attempts)", *err.args[1:])
