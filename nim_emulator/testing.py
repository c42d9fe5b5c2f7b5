"""The emulator for other projects' tests: in-process httpx transports, and emulator handles.

Not a port of a Go file. Two transports run the emulator's ASGI app with no socket:

* :class:`EmulatorTransport` — an ``httpx.BaseTransport`` for synchronous clients
  (``httpx.Client(transport=...)``, ``reranker_nvidia.Client(transport=...)``).
  The app runs on a private event loop in a background thread, so the caller
  needs no event loop and may itself run inside one. The thread starts with the
  first request and stops at :meth:`~EmulatorTransport.close` (a later request
  starts it again).
* :class:`AsyncEmulatorTransport` — an ``httpx.AsyncBaseTransport``, on the
  caller's own loop (asyncio or trio).

Both honour the request's read timeout (``httpx.ReadTimeout``), which plain
``httpx.ASGITransport`` ignores, so latency faults can time a client out
in-process. Both can share one app, hence one request log and one set of faults.

The handles are what the pytest plugin's fixtures yield, usable without pytest:

* :class:`InProcessEmulator` — the two transports over one app, a placeholder
  ``base_url``, the request log and the fault controls;
  :class:`ServedEmulator` — the same plus the app on a real socket on
  127.0.0.1, whose address is its ``base_url`` (use it as a context manager).

Every handle notes the requests a replayed cassette did not hold
(:attr:`~InProcessEmulator.mismatches`), whichever front end they came through.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import anyio
import httpx
from starlette.applications import Starlette

from nim_emulator._app import create_app
from nim_emulator._cassette import Cassette, Interaction, load_cassette
from nim_emulator._config import EmulatorConfig
from nim_emulator._server import _Runner
from nim_emulator.exceptions import EmulatorConfigError
from nim_emulator.faults import FaultSpec
from nim_emulator.models import ArmedFault, EmulatorState, RequestRecord

__all__ = [
    "IN_PROCESS_BASE_URL",
    "AsyncEmulatorTransport",
    "EmulatorTransport",
    "InProcessEmulator",
    "ReplayMismatch",
    "ServedEmulator",
]

IN_PROCESS_BASE_URL: Final = "http://nim-emulator.test"
"""The ``base_url`` of an in-process emulator: any URL works, the transport ignores the host."""

_ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
_Message = MutableMapping[str, Any]


def _app_or_config(
    app: object, config: EmulatorConfig | None, who: str
) -> tuple[Starlette | _ASGIApp | None, EmulatorConfig | None]:
    """Sort ``who``'s first argument: an app, or an :class:`EmulatorConfig` given positionally.

    ``InProcessEmulator(EmulatorConfig(...))`` is how most people write it, so a
    config in the app's place is taken as the config; anything else that is not
    an ASGI app is refused here, in one line, rather than on the first request.
    """
    if isinstance(app, EmulatorConfig):
        if config is not None:
            raise EmulatorConfigError(f"give {who} one EmulatorConfig, not two")
        return None, app
    if app is not None and config is not None:
        raise EmulatorConfigError(f"give {who} a config or an app, not both")
    if app is not None and not callable(app):
        raise EmulatorConfigError(
            f"{who} takes an app from create_app() or an EmulatorConfig, not {type(app).__name__}"
        )
    return app, config


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if isinstance(value, int | float) else None


class AsyncEmulatorTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` over the emulator's app (module docstring).

    Give it an ``app`` from :func:`~nim_emulator.create_app` (to share it, or to
    keep ``app.state.emulator``), or a ``config``, or neither for the defaults.
    """

    def __init__(
        self,
        app: Starlette | _ASGIApp | EmulatorConfig | None = None,
        *,
        config: EmulatorConfig | None = None,
    ) -> None:
        given, config = _app_or_config(app, config, "the transport")
        self.app: Starlette | _ASGIApp = given if given is not None else create_app(config)
        self._asgi = httpx.ASGITransport(app=self.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = _read_timeout(request)
        try:
            with anyio.fail_after(timeout):
                response = await self._asgi.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out", request=request) from None
        return response


class EmulatorTransport(httpx.BaseTransport):
    """An ``httpx.BaseTransport`` over the emulator's app, on a private loop (module docstring).

    Safe to share between threads; ``app`` and ``config`` as for
    :class:`AsyncEmulatorTransport`.
    """

    def __init__(
        self,
        app: Starlette | _ASGIApp | EmulatorConfig | None = None,
        *,
        config: EmulatorConfig | None = None,
    ) -> None:
        given, config = _app_or_config(app, config, "the transport")
        self.app: Starlette | _ASGIApp = given if given is not None else create_app(config)
        self._asgi = httpx.ASGITransport(app=self.app)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        inner = httpx.Request(
            request.method,
            request.url,
            headers=request.headers,
            stream=httpx.ByteStream(body),
            extensions=request.extensions,
        )
        future = asyncio.run_coroutine_threadsafe(self._send(inner), self._running_loop())
        try:
            status, headers, content = future.result(_read_timeout(request))
        except TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout("timed out", request=request) from None
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))

    async def _send(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return response.status_code, response.headers.raw, content

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="nim-emulator transport", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Stop the private loop and its thread; requests still running are cancelled."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        # Everything runs on the private loop's own thread: the caller may be inside a loop.
        asyncio.run_coroutine_threadsafe(_wind_down(loop), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _wind_down(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the requests still running on ``loop``, then close its async generators."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await loop.shutdown_asyncgens()


@dataclass(frozen=True)
class ReplayMismatch:
    """A request that the replayed cassette did not hold (the emulator answered it 599)."""

    method: str
    path: str
    body: str
    reason: str
    expected: dict[str, Any] | None

    def describe(self) -> str:
        """One readable paragraph: what came, why it did not match, what was expected."""
        text = f"{self.method} {self.path} with body {self.body!r}: {self.reason}"
        if self.expected is not None:
            text += (
                f"; the next unserved interaction is #{self.expected.get('index')} "
                f"{self.expected.get('method')} {self.expected.get('path')} "
                f"with body {self.expected.get('body')!r}"
            )
        return text


class _MismatchRecorder:
    """The app, noting each 599 it sends for a request no cassette interaction matches."""

    def __init__(self, app: _ASGIApp) -> None:
        self.app = app
        self.mismatches: list[ReplayMismatch] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []
        body: list[bytes] = []

        async def watched(message: _Message) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message["status"]))
            elif message.get("type") == "http.response.body" and status == [599]:
                body.append(bytes(message.get("body", b"")))
            await send(message)

        await self.app(scope, receive, watched)
        if status == [599]:
            self._note(b"".join(body))

    def _note(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            return
        received = data.get("received") if isinstance(data, dict) else None
        if not isinstance(received, dict):  # a status=599 fault, not a replay mismatch
            return
        expected = data.get("expected")
        mismatch = ReplayMismatch(
            method=str(received.get("method")),
            path=str(received.get("path")),
            body=str(received.get("body")),
            reason=str(data.get("reason")),
            expected=expected if isinstance(expected, dict) else None,
        )
        with self._lock:
            self.mismatches.append(mismatch)

    def snapshot(self) -> list[ReplayMismatch]:
        with self._lock:
            return list(self.mismatches)

    def clear(self) -> None:
        with self._lock:
            self.mismatches.clear()


class InProcessEmulator:
    """An emulator with no socket: two transports over one app, its log and its faults.

    ``app`` from :func:`~nim_emulator.create_app`, or ``config`` (by keyword, or
    positionally in the app's place: ``InProcessEmulator(EmulatorConfig(...))``),
    or neither. ``base_url`` is :data:`IN_PROCESS_BASE_URL`; point a client at
    it *and* give the client :attr:`transport` (or :attr:`async_transport`).
    """

    def __init__(
        self,
        app: Starlette | EmulatorConfig | None = None,
        *,
        config: EmulatorConfig | None = None,
    ):
        given, config = _app_or_config(app, config, "the emulator")
        if given is not None and not isinstance(given, Starlette):
            raise EmulatorConfigError(
                "the emulator takes an app from create_app() or an EmulatorConfig, "
                f"not {type(given).__name__}"
            )
        self.app = given if given is not None else create_app(config)
        self._recorder = _MismatchRecorder(self.app)
        self.transport = EmulatorTransport(self._recorder)
        self.async_transport = AsyncEmulatorTransport(self._recorder)

    @property
    def base_url(self) -> str:
        """Where a client sends its requests (module docstring)."""
        return IN_PROCESS_BASE_URL

    @property
    def state(self) -> EmulatorState:
        """The app's state: the request log, the faults, the replay cursor."""
        state: EmulatorState = self.app.state.emulator
        return state

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests received so far, oldest first, as the emulator logs them (a copy)."""
        return self.state.requests

    @property
    def armed(self) -> list[ArmedFault]:
        """The faults in force, in the order they are tried (a copy)."""
        return self.state.faults

    @property
    def mismatches(self) -> list[ReplayMismatch]:
        """The requests a replayed cassette did not hold, oldest first (a copy)."""
        return self._recorder.snapshot()

    def fault(self, spec: FaultSpec | str) -> ArmedFault:
        """Arm one fault (``"status=429,count=1"``, see ``nim_emulator.FAULT_GRAMMAR``)."""
        return self.state.add_fault(spec)

    def faults(self, *specs: FaultSpec | str) -> list[ArmedFault]:
        """Arm several faults, in order; a bad spec raises ``FaultSpecError`` and arms none."""
        parsed = [spec if isinstance(spec, FaultSpec) else FaultSpec.parse(spec) for spec in specs]
        return [self.state.add_fault(spec) for spec in parsed]

    def clear_faults(self) -> None:
        """Disarm every fault, the start-up ones included."""
        self.state.clear_faults()

    def reset(self) -> None:
        """Back to the start-up state: empty log, start-up faults re-armed, cassette rewound."""
        self.state.reset()
        self._recorder.clear()

    def use_cassette(self, cassette: Cassette | str | Path | None) -> Cassette | None:
        """Replay ``cassette`` (a loaded one or a file) from its start; None: emulate again."""
        loaded = cassette if cassette is None or isinstance(cassette, Cassette) else None
        if cassette is not None and loaded is None:
            loaded = load_cassette(Path(str(cassette)))
        self.state.use_cassette(loaded)
        return loaded

    def unused_interactions(self) -> list[Interaction]:
        """The replayed cassette's interactions not served yet, in cassette order."""
        return self.state.unused_interactions()

    def close(self) -> None:
        """Stop the sync transport's private thread (it restarts on a later request)."""
        self.transport.close()

    def __enter__(self) -> InProcessEmulator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class ServedEmulator(InProcessEmulator):
    """:class:`InProcessEmulator` plus the same app on a real socket (``host``, ``port``).

    The server starts here; :meth:`close` (or the end of a ``with`` block) stops
    it and joins its thread. ``base_url`` is the server's, e.g.
    ``http://127.0.0.1:54321``; the transports still work, on the same state.
    """

    def __init__(
        self,
        app: Starlette | EmulatorConfig | None = None,
        *,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(app, config=config)
        self._runner = _Runner(self._recorder, host, port, self.state.config)
        self._runner.start()
        self._url = self._runner.url

    @property
    def base_url(self) -> str:
        """The server's address: ``http://127.0.0.1:PORT``."""
        return self._url

    def close(self) -> None:
        """Stop the server and the sync transport's thread."""
        try:
            self._runner.stop()
        finally:
            super().close()

    def __enter__(self) -> ServedEmulator:
        return self
