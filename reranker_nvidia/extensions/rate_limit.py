"""A client-side limit on how often requests start: the ``requestsPerMinute`` extension.

Python only (D-EXT-RPM); Go sends as fast as its chunks allow. NVIDIA's
hosted service announces no rate limit (no ``X-RateLimit-*`` header), so a
caller who knows their quota sets ``requests_per_minute=N``: then no two
requests of one client start closer together than ``60/N`` seconds, across
every thread and task that uses the client, retries included.

The limiter keeps the instant the last request was let go. A caller that
arrives too early waits, without holding the lock, and then tries again: the
first one back claims the next start, at the time it actually starts, so two
starts can never be closer than the interval, however late a sleeper wakes.
Threads and tasks share that one state: the wait is a flow
(:meth:`RateLimiter.turn`) that yields its pauses.

When a deadline is in force (``deadline_scope``), a caller whose turn would
come after it waits only until the deadline and returns without claiming a
start: the request it was to send then fails as Go's does when the time is up.

A start is claimed before the request is sent, so that waiting for a turn
does not eat into the request's own timeout; a request that then takes a
while to reach the wire (a first connection dialled, a pool built) would
bring the next start closer. :meth:`RateLimiter.mark_sent`, which the sender
calls when the request's headers start to go out, moves the next turn to
``60/N`` seconds after the request really went out.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

from ..clients._sending import Post
from ..modulecomponents._deadline import current_deadline
from ..modulecomponents._retry_drivers import Pause
from .settings import setting

__all__ = ["RateLimiter", "RateLimiters"]


class RateLimiter:
    """No two starts closer than ``60 / requests_per_minute`` seconds, from any thread or task.

    Written once, as a flow (:meth:`turn`) that pauses until a start is
    claimed, so threads and tasks share one state. ``clock`` must be the clock
    the deadline is kept on (``time.monotonic``) unless no deadline is used.
    """

    __slots__ = ("_clock", "_lock", "_next", "interval", "requests_per_minute")

    def __init__(
        self,
        requests_per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The row's own check (extensions/settings.py): a number, at least one a 1000 minutes.
        rate = setting("requests_per_minute").check(
            "requests_per_minute", requests_per_minute, repr(requests_per_minute)
        )
        self.requests_per_minute = float(rate)
        self.interval = 60.0 / self.requests_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._next = -math.inf  # the earliest instant the next request may start

    def __repr__(self) -> str:
        return f"RateLimiter(requests_per_minute={self.requests_per_minute:g})"

    def turn(self) -> Generator[Pause, Any, float | None]:
        """Pause until this request may start; thread- and task-safe.

        Returns the start claimed (on ``clock``), or ``None`` when the deadline
        in force came first.
        """
        while True:
            start, wait = self._claim()
            if wait is None:
                return start
            yield Pause(wait)

    def mark_sent(self) -> None:
        """The request of the last start claimed went out now: the next waits from here."""
        with self._lock:
            self._next = max(self._next, self._clock() + self.interval)

    def before_each_post(self, post: Post) -> Generator[Pause, Any, Post]:
        """A hook (``_flows.before_posts``): the turn, then the request, which marks its send."""
        yield from self.turn()
        return replace(post, on_sent=self.mark_sent)

    def _claim(self) -> tuple[float | None, float | None]:
        """``(start, None)`` for a start claimed now, ``(None, None)`` when the deadline has
        passed, else ``(None, seconds)`` to wait before asking again."""
        deadline = current_deadline()
        with self._lock:
            now = self._clock()
            if now >= self._next:
                self._next = now + self.interval
                return now, None
            wait = self._next - now
        if deadline is not None:
            left = deadline - now
            if left <= 0:
                return None, None  # too late for a turn: the send reports the deadline
            wait = min(wait, left)
        return None, wait


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
