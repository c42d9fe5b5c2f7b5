"""Waiting for a self-hosted NIM to be ready: the ``waitReady`` extension (D-EXT-WAIT-READY).

Python only; Go sends at once. A NIM container answers ``GET
/v1/health/ready`` with 503 while it loads its model and 200 once it can
rank. With ``wait_ready=SECONDS`` the client polls that route before its first
request to a base URL, every 0.1 s at first and at most every second, until a
2xx answer (as Weaviate's reranker-transformers reads its own readiness
route) or until the time is up; then a :class:`TransportError` says, in one line,
that the NIM was not ready and what it last answered: a status, or why it could
not be reached (refused, no such host, no answer within a poll's 5 s). A poll
the end of the wait cut short (the last one is made as the time runs out) is
not an answer: it is named only when no poll got one. Each poll takes at most
5 s and never more than the time left (``deadline_scope``), and no key is
sent: the route is open on a stock NIM.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from .._gostd import url as gourl
from ..clients._sending import Post
from ..errors import ConfigError, DeadlineExceededError, TransportError
from ..modulecomponents import _http_errors as gonet
from ..modulecomponents._deadline import deadline_scope
from ..modulecomponents._retry_drivers import Pause
from ._flows import Flow, Turns, once

__all__ = ["READY_PATH", "before_first_post", "ready_flow", "ready_url"]

READY_PATH = "/v1/health/ready"
FIRST_POLL_S = 0.1
LONGEST_POLL_S = 1.0
POLL_TIMEOUT_S = 5.0
"""The most one poll may take: a NIM that accepts and never answers is asked again."""

_NOT_SENDABLE = (httpx.UnsupportedProtocol, httpx.InvalidURL)


def ready_url(base_url: str) -> str:
    """``{base URL}/v1/health/ready``, without a doubled slash."""
    authority = base_url.find("://")
    keep = authority + 3 if authority != -1 else 0
    return base_url[:keep] + base_url[keep:].rstrip("/") + READY_PATH


def _checked(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ConfigError(f"wait_ready must be a number greater than 0, not {seconds!r}")
    return float(seconds)


class _Poll:
    """What the polls of one wait share: the end, the next pause, the last answer."""

    def __init__(self, url: str, seconds: float, clock: Callable[[], float]) -> None:
        self.url = url
        self.seconds = seconds
        self.clock = clock
        self.end = clock() + seconds
        self.pause = FIRST_POLL_S
        self.last = "no answer"
        self.got_one = False  # whether a poll got an answer, or a reason it could not
        self.cut_by_end = False  # whether the poll under way ends with the wait, not by itself

    def poll_deadline(self) -> float:
        """When this poll must end, on ``time.monotonic`` (the clock deadlines are kept on)."""
        left = max(self.end - self.clock(), 0.0)
        self.cut_by_end = left < POLL_TIMEOUT_S
        return time.monotonic() + min(left, POLL_TIMEOUT_S)

    def answered(self, status: int) -> bool:
        if 200 <= status < 300:  # as Weaviate's own start-up check reads it
            return True
        self.last = f"status {status}"
        self.got_one = True
        return False

    def failed(self, err: TransportError) -> None:
        """A poll that got no answer: the reason is kept; a URL that cannot be sent ends it."""
        cause = err.__cause__
        if not isinstance(cause, httpx.HTTPError) or isinstance(cause, _NOT_SENDABLE):
            raise err
        if isinstance(err, DeadlineExceededError) and self.cut_by_end and self.got_one:
            return  # the wait ran out during this poll: what the one before got stands
        self.last = gonet.describe(cause, self.url)
        self.got_one = True

    def next_pause(self) -> float | None:
        """How long to wait before the next poll; ``None`` when the time is up."""
        left = self.end - self.clock()
        if left <= 0:
            return None
        pause = min(self.pause, left)
        self.pause = min(self.pause * 2, LONGEST_POLL_S)
        return pause

    def not_ready(self) -> TransportError:
        return TransportError(
            f"NIM not ready after {self.seconds:g} s: {self._get()} last answered {self.last}"
        )

    def _get(self) -> str:
        return f"Get {gourl.go_quote(gourl.strip_password(self.url))}"


def ready_flow(
    base_url: str, seconds: float, *, clock: Callable[[], float] = time.monotonic
) -> Flow[None]:
    """Poll ``GET {base_url}/v1/health/ready`` until a 2xx, for at most ``seconds``.

    Written once, as a flow: each poll is a request the client sends, each
    pause one it sleeps or awaits.
    """
    poll = _Poll(ready_url(base_url), _checked(seconds), clock)
    while True:
        with deadline_scope(poll.poll_deadline()):
            try:
                answer = yield Post(poll.url, {}, b"", method="GET")
            except TransportError as err:
                poll.failed(err)
            else:
                assert answer is not None
                if poll.answered(answer.status):
                    return
        pause = poll.next_pause()
        if pause is None:
            raise poll.not_ready()
        yield Pause(pause)


def before_first_post(
    turns: Turns, seconds: float, base_url: Callable[[], str]
) -> Callable[[Post], Flow[Post]]:
    """A hook (``_flows.before_posts``): one wait per base URL, before its first request."""

    def hook(post: Post) -> Flow[Post]:
        base = base_url()  # the base URL the request was built for
        yield from once(turns, base, lambda: ready_flow(base, seconds))
        return post

    return hook
