"""A client-side limit on how often requests start: the ``requestsPerMinute`` extension.

Python only (D-EXT-RPM); Go sends as fast as its chunks allow. NVIDIA's
hosted service announces no rate limit (no ``X-RateLimit-*`` header), so a
caller who knows their quota sets ``requests_per_minute=N``: then no two
requests of one client start closer together than ``60/N`` seconds, across
every thread and task that uses the client, retries included.

The limiter is a first-come queue. A caller takes a ticket as it arrives and
pauses until its ticket is at the head of the queue and the interval since
the last start has passed; then it claims its start, at the time it really
starts (so a late waker cannot bring two starts closer), and the next ticket
becomes the head. Nobody overtakes: with 16 threads at 600 a minute every
caller starts within 16 intervals (1.6 s). No lock is held while waiting and
nothing blocks: the wait is a flow (:meth:`RateLimiter.turn`) that yields its
pauses, so threads and tasks share the one queue. A caller that gives up
(cancelled, Ctrl-C, its deadline passed) leaves its place to the next.

When a deadline is in force (``deadline_scope``), a caller whose turn would
come after it takes no ticket and waits only until the deadline; the request
it was to send then fails with Go's ``context deadline exceeded``, raised
here, so that no transport (``httpx.MockTransport``, an in-process one) sends
it with no start claimed.

A start is claimed before the request is sent, so that waiting for a turn
does not eat into the request's own timeout. What the server sees is spaced
too: the sender calls the request's ``on_sent`` as its headers start to go
out (httpcore's ``trace``), and the next start waits for that, then for
``60/N`` seconds after it. That wait needs a transport that reports sends: it
begins with the first send reported, so a transport of the user's own
(``httpx.MockTransport``, which reports none and sends when called) is spaced
by the starts claimed. A request whose headers never go out (a connection
refused, say) holds the next for at most :data:`SEND_WAIT_S` past its turn:
the sender tells when headers go out, not when a request failed before.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

from ..clients._sending import Post, transport_error
from ..modulecomponents._deadline import DeadlineExceeded, current_deadline
from ..modulecomponents._retry_drivers import Pause
from .settings import setting

__all__ = ["SEND_WAIT_S", "RateLimiter", "RateLimiters"]

SEND_WAIT_S = 1.0
"""The longest the next start waits, past its turn, for the last request to reach the wire
(a dial and a TLS handshake take well under that); then it goes without."""
SEND_POLL_S = 0.002
"""How often the head of the queue looks whether the last request went out."""
RECHECK_S = 0.05
"""A caller behind the head looks again at least this often (or every interval, if longer):
a place freed ahead of it moves it up."""


class _Start:
    """A start claimed: when, and when its request's headers went out (``None``: not yet)."""

    __slots__ = ("at", "sent_at", "tracked")

    def __init__(self, at: float, *, tracked: bool) -> None:
        self.at = at
        self.sent_at: float | None = None
        self.tracked = tracked
        """Whether its request will say when it goes out (a hook's, not a bare turn's)."""


class RateLimiter:
    """No two starts closer than ``60 / requests_per_minute`` seconds, from any thread or task,
    served in the order the callers arrived.

    Written once, as a flow (:meth:`turn`) that pauses until a start is
    claimed, so threads and tasks share one state. ``clock`` must be the clock
    the deadline is kept on (``time.monotonic``) unless no deadline is used.
    """

    __slots__ = (
        "_clock",
        "_dropped",
        "_floor",
        "_head",
        "_issued",
        "_last",
        "_lock",
        "_traced",
        "interval",
        "requests_per_minute",
    )

    def __init__(
        self,
        requests_per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The row's own check (extensions/settings.py): a number, at least one in 1000 minutes.
        rate = setting("requests_per_minute").check(
            "requests_per_minute", requests_per_minute, repr(requests_per_minute)
        )
        self.requests_per_minute = float(rate)
        self.interval = 60.0 / self.requests_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._issued = 0  # tickets handed out
        self._head = 0  # the ticket whose turn is next
        self._dropped: set[int] = set()  # tickets given up before their turn
        self._last: _Start | None = None  # the last start claimed
        self._floor = -math.inf  # no start before: 60/N after the last request seen going out
        self._traced = False  # whether a send was ever reported: the transport reports them

    def __repr__(self) -> str:
        return f"RateLimiter(requests_per_minute={self.requests_per_minute:g})"

    @property
    def next_start(self) -> float:
        """The earliest instant the head of the queue may start (``-inf``: at once)."""
        with self._lock:
            return self._earliest()

    def turn(self) -> Generator[Pause, Any, float | None]:
        """Pause until this caller's turn; thread- and task-safe.

        Returns the start claimed (on ``clock``), or ``None`` when the deadline
        in force came first.
        """
        start = yield from self._turn(tracked=False)
        return None if start is None else start.at

    def mark_sent(self) -> None:
        """The request of the last start claimed went out now: the next waits from here."""
        with self._lock:
            last = self._last
        if last is not None:
            self._sent(last)

    def before_each_post(self, post: Post) -> Generator[Pause, Any, Post]:
        """A hook (``_flows.before_posts``): the turn, then the request, which marks its send.

        A turn the deadline came before is Go's deadline error, raised here: the
        request is not sent.
        """
        start = yield from self._turn(tracked=True)
        if start is None:
            raise transport_error(DeadlineExceeded(), post.url, method=post.method)
        return replace(post, on_sent=functools.partial(self._sent, start))

    # ---- the queue (every method below but _turn runs under the lock, or takes it) -----------

    def _turn(self, *, tracked: bool) -> Generator[Pause, Any, _Start | None]:
        deadline = current_deadline()
        ticket, until_deadline = self._arrive(deadline)
        if ticket is None:  # the turn would come after the deadline: no place taken
            if until_deadline > 0:
                yield Pause(until_deadline)
            return None
        claimed = False
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    wait = self._wait(ticket, now)
                    if wait is None:
                        claimed = True
                        return self._claim(now, tracked=tracked)
                pause = wait
                if deadline is not None:
                    if now >= deadline:
                        return None  # the place is given up below
                    pause = min(pause, deadline - now)
                yield Pause(pause)
        finally:
            if not claimed:
                self._drop(ticket)

    def _arrive(self, deadline: float | None) -> tuple[int | None, float]:
        """A ticket, or ``(None, seconds to the deadline)`` when the turn would come after it."""
        with self._lock:
            now = self._clock()
            if deadline is not None:
                due = max(now, self._earliest()) + self._ahead(self._issued) * self.interval
                if due > deadline:
                    return None, max(deadline - now, 0.0)
            ticket = self._issued
            self._issued += 1
            return ticket, 0.0

    def _wait(self, ticket: int, now: float) -> float | None:
        """``None`` when ``ticket`` may start now, else how long to pause before looking again."""
        earliest = self._earliest()
        if ticket != self._head:
            due = max(now, earliest) + self._ahead(ticket) * self.interval
            return min(due - now, max(self.interval, RECHECK_S))
        if now < earliest:
            return earliest - now
        last = self._last
        if (
            self._traced
            and last is not None
            and last.tracked
            and last.sent_at is None
            and now < last.at + self.interval + SEND_WAIT_S
        ):
            return SEND_POLL_S  # the last request has not reached the wire yet
        return None

    def _earliest(self) -> float:
        last = -math.inf if self._last is None else self._last.at + self.interval
        return max(last, self._floor)

    def _ahead(self, ticket: int) -> int:
        """How many callers still wait before ``ticket``."""
        gone = sum(1 for t in self._dropped if t < ticket)
        return ticket - self._head - gone

    def _claim(self, now: float, *, tracked: bool) -> _Start:
        self._last = _Start(now, tracked=tracked)
        self._advance()
        return self._last

    def _advance(self) -> None:
        self._head += 1
        while self._head in self._dropped:
            self._dropped.discard(self._head)
            self._head += 1

    def _drop(self, ticket: int) -> None:
        with self._lock:
            if ticket == self._head:
                self._advance()
            elif ticket > self._head:
                self._dropped.add(ticket)

    def _sent(self, start: _Start) -> None:
        with self._lock:
            now = self._clock()
            if start.sent_at is None:
                start.sent_at = now
            self._traced = True
            self._floor = max(self._floor, now + self.interval)


class RateLimiters:
    """A client's limiters, one per ``requests_per_minute`` value seen (normally one)."""

    __slots__ = ("_by_rate", "_lock")

    def __init__(self) -> None:
        self._by_rate: dict[float, RateLimiter] = {}
        self._lock = threading.Lock()

    def get(self, requests_per_minute: float) -> RateLimiter:
        """The limiter of ``requests_per_minute``, made the first time it is asked for."""
        rate = float(requests_per_minute)
        with self._lock:
            limiter = self._by_rate.get(rate)
            if limiter is None:
                limiter = self._by_rate[rate] = RateLimiter(rate)
            return limiter
