"""Driving the flows the extensions are written as, the way the two clients drive them.

An extension is one generator for both clients; a test drives it with
``drive`` (as ``Client`` does, on the calling thread) or ``drive_async`` (as
``AsyncClient`` does), with a fake clock's sleep, and, where the flow sends
requests, an httpx client of the test's own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import anyio
import httpx

from reranker_nvidia.clients._sending import Answer, Post, SentTrace, send, send_async
from reranker_nvidia.extensions.rate_limit import RateLimiter
from reranker_nvidia.extensions.retries import RetryPolicy
from reranker_nvidia.modulecomponents._retry_drivers import Pause, drive, drive_async

T = TypeVar("T")


def flow_of(attempt: Callable[[], T]) -> Generator[Any, Any, T]:
    """A flow without steps whose value is ``attempt()``: a plain call seen as a flow."""
    return attempt()
    yield  # a generator, never reached


def _nothing_to_send(request: object) -> Any:
    raise AssertionError(f"this flow sends nothing, yet asked to send {request!r}")


def run_flow(
    flow: Generator[Post | Pause, Any, T],
    *,
    sleep: Callable[[float], None] = time.sleep,
    http: httpx.Client | None = None,
) -> T:
    """``flow`` driven on this thread; its requests sent with ``http``."""
    sender: Callable[[Post], Answer] = (
        _nothing_to_send if http is None else (lambda post: send(http, post, None))
    )
    return drive(flow, sender, sleep)


async def arun_flow(
    flow: Generator[Post | Pause, Any, T],
    *,
    asleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    http: httpx.AsyncClient | None = None,
) -> T:
    """``flow`` driven on anyio; its requests sent with ``http``."""

    async def sender(post: Post) -> Answer:
        if http is None:
            return _nothing_to_send(post)  # type: ignore[no-any-return]
        return await send_async(http, post, None)

    return await drive_async(flow, sender, asleep)


class DrivenPolicy:
    """A :class:`RetryPolicy` around a plain attempt, driven as each client drives it."""

    def __init__(
        self,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.policy = policy
        self.sleep = sleep
        self.asleep = asleep

    def run(self, attempt: Callable[[], T], *, timeout: float | None) -> T:
        flow = self.policy.flow(lambda: flow_of(attempt), timeout=timeout)
        return run_flow(flow, sleep=self.sleep)

    async def arun(self, attempt: Callable[[], T], *, timeout: float | None) -> T:
        flow = self.policy.flow(lambda: flow_of(attempt), timeout=timeout)
        return await arun_flow(flow, asleep=self.asleep)


class DrivenLimiter:
    """A :class:`RateLimiter`'s turns, driven as each client drives them; the rest passes through."""

    def __init__(
        self,
        limiter: RateLimiter,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.limiter = limiter
        self.sleep = sleep
        self.asleep = asleep

    def acquire(self) -> float | None:
        return run_flow(self.limiter.turn(), sleep=self.sleep)

    async def aacquire(self) -> float | None:
        return await arun_flow(self.limiter.turn(), asleep=self.asleep)

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """What the sender calls as the request goes out (httpcore's ``trace`` events)."""
        SentTrace(self.limiter.mark_sent)(name, info)

    async def atrace(self, name: str, info: dict[str, Any]) -> None:
        await SentTrace(self.limiter.mark_sent).asynchronous(name, info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.limiter, name)
