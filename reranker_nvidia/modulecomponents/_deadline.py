"""One deadline for a whole request: Python-only plumbing of the retry transport.

Go gives a request a deadline with ``context.WithTimeout`` and keeps it in
force until the body is closed (``cancelOnClose`` in retry_transport.go).
Here the deadline is a ``time.monotonic()`` instant held in a context
variable: the retry transport sets it, the network backend in
``_transport.py`` cuts every socket operation down to what is left of it, and
the response body is read under it through the deadline-bound streams below.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar

import anyio
import httpx

_DEADLINE: ContextVar[float | None] = ContextVar("reranker_nvidia_deadline", default=None)


class DeadlineExceeded(httpx.TimeoutException):
    """The request's deadline passed (Go: ``context.DeadlineExceeded``)."""

    def __init__(self) -> None:
        super().__init__("context deadline exceeded")


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


@contextlib.contextmanager
def deadline_errors(*timeouts: type[BaseException]) -> Iterator[None]:
    """Report any of ``timeouts`` raised inside as the deadline passing."""
    try:
        yield
    except DeadlineExceeded:
        raise
    except timeouts as err:
        raise DeadlineExceeded from err


class DeadlineBoundStream(httpx.SyncByteStream):
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


class AsyncDeadlineBoundStream(httpx.AsyncByteStream):
    """The async twin of :class:`DeadlineBoundStream`."""

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
