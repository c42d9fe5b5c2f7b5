"""Running the retry transport's resend flow: Python-only plumbing of retry_transport.py.

retry_transport.py writes Go's ``roundTripWithRetries`` once, as a generator
that yields what to do next and is sent what came of it; the model is httpx's
``Auth.auth_flow``, which ``Auth.sync_auth_flow`` and ``Auth.async_auth_flow``
drive. The flow yields

- an ``httpx.Request``: send it once through the base transport; the driver
  sends the response back;
- a :class:`Pause`: wait that long; the driver sends back ``None``.

Whatever a step raises, a cancellation included, the driver throws into the
flow, so the flow unwinds exactly as the loop it replaces would.

The flow's return value is the response. :func:`drive` runs a flow on the
calling thread, :func:`drive_async` on anyio. This module also holds the
httpcore trace adapters through which a flow learns, as Go does through
``httptrace.GotConn``, whether an attempt went out on a pooled connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import httpx

T = TypeVar("T")
Req = TypeVar("Req")
"""What a flow asks its driver to send."""
Out = TypeVar("Out")
"""What comes back of sending it."""


@dataclass(frozen=True)
class Pause:
    """A flow's instruction to wait ``seconds`` before it goes on."""

    seconds: float


Step: TypeAlias = httpx.Request | Pause
Flow: TypeAlias = Generator[Step, httpx.Response | None, T]
"""A resend flow: yields steps, is sent their outcome, returns ``T``."""


def drive(
    flow: Generator[Req | Pause, Out | None, T],
    send: Callable[[Req], Out],
    sleep: Callable[[float], None],
) -> T:
    """Run ``flow`` on the calling thread (the model is httpx's ``Auth.sync_auth_flow``).

    Any flow that yields requests and :class:`Pause` runs here: the resend flow
    of retry_transport.py, and the rank flow of clients/ranker.py.
    """
    try:
        step = next(flow)
        while True:
            outcome: Out | None = None
            try:
                if isinstance(step, Pause):
                    sleep(step.seconds)
                else:
                    outcome = send(step)
            except BaseException as err:  # noqa: BLE001 - the flow decides what it means
                step = flow.throw(err)
            else:
                step = flow.send(outcome)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        flow.close()


async def drive_async(
    flow: Generator[Req | Pause, Out | None, T],
    send: Callable[[Req], Awaitable[Out]],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """Run ``flow`` on anyio (the model is httpx's ``Auth.async_auth_flow``)."""
    try:
        step = next(flow)
        while True:
            outcome: Out | None = None
            try:
                if isinstance(step, Pause):
                    await sleep(step.seconds)
                else:
                    outcome = await send(step)
            except BaseException as err:  # noqa: BLE001 - the flow decides what it means
                step = flow.throw(err)
            else:
                step = flow.send(outcome)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        flow.close()


_DIALED = "connection.connect_tcp.started"


def _sent(name: str) -> bool:
    return name.endswith(".send_request_headers.started")


class ConnReuse:
    """Records, through httpcore's trace events, whether an attempt used a pooled connection.

    An attempt that sends its request without having dialled used a pooled
    connection; one that never sends it (no connection could be had) did not.
    """

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


class SyncTrace:
    """httpcore's ``trace`` extension for a synchronous attempt; calls on to ``chained``."""

    def __init__(self, reuse: ConnReuse, chained: Callable[[str, dict[str, Any]], Any] | None):
        self._reuse = reuse
        self._chained = chained

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        self._reuse.note(name)
        if self._chained is not None:
            self._chained(name, info)


class AsyncTrace:
    """The async twin of :class:`SyncTrace` (httpcore awaits it)."""

    def __init__(
        self, reuse: ConnReuse, chained: Callable[[str, dict[str, Any]], Awaitable[Any]] | None
    ):
        self._reuse = reuse
        self._chained = chained

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self._reuse.note(name)
        if self._chained is not None:
            await self._chained(name, info)
