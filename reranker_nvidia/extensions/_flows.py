"""What the extensions use to wrap Go's flow: hooks before each request, and one turn per key.

Python only. Every extension is written once, as a flow (a generator that
yields a request or a :class:`Pause` and is sent what came of it), so the same
code runs under ``Client`` (threads) and ``AsyncClient`` (tasks). Two needs
recur:

- :func:`before_posts` runs hooks before each request a flow yields: the rate
  limit waits for its turn there, and ``waitReady`` waits for the NIM;
- :class:`Turns` lets one chunk at a time do a thing first for a key (``auto``
  probes a base URL, ``waitReady`` waits for it) while the others wait for it,
  from threads and tasks alike: a turn is taken without blocking, and a chunk
  that finds the turn taken pauses briefly and looks again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeAlias, TypeVar

from ..clients._sending import Post
from ..modulecomponents._retry_drivers import Pause

__all__ = ["WAIT_FOR_TURN_S", "Flow", "Hook", "Turns", "before_posts", "observed", "once"]

T = TypeVar("T")

Flow: TypeAlias = Generator[Post | Pause, Any, T]
"""A flow of the rank path: yields a :class:`Post` or a :class:`Pause`, returns ``T``."""

Hook: TypeAlias = Callable[[Post], Generator[Post | Pause, Any, Post]]
"""Runs before a request is sent; may pause or send requests of its own; returns the request."""

WAIT_FOR_TURN_S = 0.005
"""How long a chunk that finds a turn taken pauses before it looks again."""


def before_posts(flow: Flow[T], hooks: Sequence[Hook]) -> Flow[T]:
    """``flow``, with ``hooks`` run in order before each request it yields.

    What a hook raises is raised inside ``flow`` at its request, so the flow
    handles it as it would a failed send (it masks the key in it, for one).
    """
    try:
        step = next(flow)
        while True:
            try:
                if isinstance(step, Post):
                    for hook in hooks:
                        step = yield from hook(step)
                outcome = yield step
            except BaseException as err:  # noqa: BLE001 - the flow decides what it means
                step = flow.throw(err)
            else:
                step = flow.send(outcome)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        flow.close()


def observed(flow: Flow[T], on_step: Callable[[Post | Pause, Any], None]) -> Flow[T]:
    """``flow`` unchanged, with ``on_step(step, what came of it)`` called after each step.

    A step is a request or a pause; what came of it is the answer (``None`` for a
    pause), or the exception raised into the flow there (then raised on).
    """
    try:
        step = next(flow)
        while True:
            try:
                outcome = yield step
            except BaseException as err:  # noqa: BLE001 - seen, then the flow decides
                on_step(step, err)
                step = flow.throw(err)
            else:
                on_step(step, outcome)
                step = flow.send(outcome)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        flow.close()


class Turns:
    """One turn at a time per key, and what the turns found; shared by threads and tasks."""

    __slots__ = ("_busy", "_found", "_lock")

    def __init__(self) -> None:
        self._found: dict[str, Any] = {}
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def found(self, key: str) -> Any:
        """What a turn found for ``key`` (``None``: nothing yet)."""
        return self._found.get(key)

    def remember(self, key: str, value: Any) -> None:
        self._found[key] = value

    def take(self, key: str) -> bool:
        """Take the turn for ``key`` if nobody holds it; never waits."""
        with self._lock:
            if key in self._busy:
                return False
            self._busy.add(key)
            return True

    def give_back(self, key: str) -> None:
        with self._lock:
            self._busy.discard(key)


def once(turns: Turns, key: str, first: Callable[[], Flow[None]]) -> Flow[None]:
    """``first()`` once for ``key``; callers meanwhile wait for it. A failure is not remembered."""
    while turns.found(key) is None:
        if turns.take(key):
            try:
                if turns.found(key) is None:
                    yield from first()
                    turns.remember(key, True)
            finally:
                turns.give_back(key)
            return
        yield Pause(WAIT_FOR_TURN_S)
