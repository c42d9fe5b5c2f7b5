"""Holding Python's cyclic garbage collector off while a ``rank`` call runs.

Python only, and invisible to a caller. A call of 100 000 passages allocates some
300 000 objects that live until it returns (each passage's ``{"text": …}``, the
decoded answers, one ``DocumentScore`` per passage); each allocation burst starts
a collection, and the oldest generation's collections walk every one of them
again: about a quarter of a call's CPU. A successful call makes no reference
cycle of its own (``_sending.unbound`` and the transport's write watcher see to
it), so holding the collector off costs no memory: what the call drops is freed
at once by reference counting.

The hold is process-wide, as the collector is, and counted under a lock: calls
that overlap (threads, tasks) hold it together, and the collector is given back
when the last of them ends, and only if it was on when the first began (a caller
who turned it off keeps it off). The collections the call put off happen after it,
as the next allocations reach the thresholds.

Bounded: calls that overlap without a gap (a server reranking for many clients)
would otherwise keep the collector off for as long as they keep coming, and the
rest of the process's cycles with it. A hold that has lasted :data:`MAX_HOLD_S`
is given up at the next call's start or end: the collector runs as usual until
no call is running, and the next call holds it afresh.
"""

from __future__ import annotations

import functools
import gc
import inspect
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

_lock = threading.Lock()
_holders = 0
_give_back = False
"""Whether the collector was on when the first of the running calls began."""
_since: float | None = None
"""When the running calls' hold began; ``None`` once it was given up (or none runs)."""

MAX_HOLD_S = 1.0
"""The longest the collector stays held through calls that overlap without a gap."""


def _give_up_a_long_hold() -> None:
    """Under the lock: give the collector back if the hold has lasted ``MAX_HOLD_S``."""
    global _since  # noqa: PLW0603
    if _since is not None and time.monotonic() - _since >= MAX_HOLD_S:
        _since = None
        if _give_back:
            gc.enable()


def hold() -> None:
    """One more call running: the collector is off until :func:`release` matches it."""
    global _holders, _give_back, _since  # noqa: PLW0603 - the one process-wide count
    with _lock:
        if _holders == 0:
            _give_back = gc.isenabled()
            _since = time.monotonic()
            gc.disable()
        else:
            _give_up_a_long_hold()
        _holders += 1


def release() -> None:
    """One call fewer; the last one gives the collector back as the first found it."""
    global _holders, _since  # noqa: PLW0603 - the one process-wide count
    with _lock:
        _holders -= 1
        if _holders == 0:
            _since = None
            if _give_back:
                gc.enable()
        else:
            _give_up_a_long_hold()


def holders() -> int:
    """How many calls hold the collector off now (for tests)."""
    with _lock:
        return _holders


def gc_held(method: _F) -> _F:
    """``method`` (a function or a coroutine function) run with the collector held off."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def held_async(*args: Any, **kwargs: Any) -> Any:
            hold()
            try:
                return await method(*args, **kwargs)
            finally:
                release()

        return held_async  # type: ignore[return-value]

    @functools.wraps(method)
    def held(*args: Any, **kwargs: Any) -> Any:
        hold()
        try:
            return method(*args, **kwargs)
        finally:
            release()

    return held  # type: ignore[return-value]
