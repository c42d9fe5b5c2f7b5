"""The dial guard chosen at every request, by the setting then in force: plumbing of base_client.py.

Go's ``NewBaseHttpClient`` reads ``MODULES_VALIDATE_BASE_URL`` once, when the
client is built, and installs the dial guard or not for good, while the
header check reads it at every call. Here the network transport is picked per
request instead (D-SSRF-SETTING): one pool dialled through the guard for
requests made while validation is on, another without it for requests made
while it is off. Each pool is built on first use. A connection dialled while
validation was off is therefore never reused once it is on, which a guard that
only read the setting at dial time would still allow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import httpx

_T = TypeVar("_T")


class _PoolPerSetting(Generic[_T]):
    def __init__(self, build: Callable[[bool], _T], enabled: Callable[[], bool]) -> None:
        self._build = build
        self._enabled = enabled
        self._pools: dict[bool, _T] = {}
        self._lock = threading.Lock()

    def current(self) -> _T:
        """The pool for the setting in force now, built on first use."""
        on = self._enabled()
        pool = self._pools.get(on)
        if pool is None:
            with self._lock:
                pool = self._pools.get(on)
                if pool is None:
                    pool = self._pools[on] = self._build(on)
        return pool

    def built(self) -> list[_T]:
        with self._lock:
            return list(self._pools.values())


class GuardPerSetting(httpx.BaseTransport):
    """Sends each request through ``build(enabled())``: the guarded or the unguarded pool."""

    def __init__(
        self, build: Callable[[bool], httpx.BaseTransport], enabled: Callable[[], bool]
    ) -> None:
        self._pools = _PoolPerSetting(build, enabled)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pools.current().handle_request(request)

    def close(self) -> None:
        for pool in self._pools.built():
            pool.close()


class AsyncGuardPerSetting(httpx.AsyncBaseTransport):
    """The async twin of :class:`GuardPerSetting`."""

    def __init__(
        self, build: Callable[[bool], httpx.AsyncBaseTransport], enabled: Callable[[], bool]
    ) -> None:
        self._pools = _PoolPerSetting(build, enabled)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pools.current().handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.built():
            await pool.aclose()
