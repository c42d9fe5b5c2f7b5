"""The emulator on a real socket: uvicorn in a background thread, with TCP_NODELAY on.

moto's ``ThreadedMotoServer`` plays this part there. Two front ends share one runner:

* :func:`running_emulator` — a context manager for tests: binds the port
  itself (port 0 = a free one), starts uvicorn in a thread, yields the base
  URL once the server accepts connections, stops it on exit. Start plus stop
  takes a few milliseconds, so it can be used per test.
* :func:`serve` — the command line's loop: same runner, prints one line when
  ready, logs one line per request on stderr, stops on SIGINT or SIGTERM and
  returns 0.

Two small uvicorn subclasses make this work. The HTTP protocol (uvicorn's h11
one) sets TCP_NODELAY on every accepted socket — without it a client on a
reused connection can wait ~40 ms per request (Nagle + delayed ACK) — and puts
a connection handle in each request's ASGI scope (``scope["extensions"]``) so
the app can drop the connection for the ``drop`` faults. The listening socket
has a backlog of 2048 (``LISTEN_BACKLOG``), so hundreds of chunks can connect
at once.

Two guards keep slow or numerous clients from starving the server (slowloris):
a connection must send a whole request head within
``EmulatorConfig.header_timeout_s`` of opening (or of its previous answer) or it
is closed — bytes trickled in do not reset that clock — and past
``EmulatorConfig.connection_limit()`` open connections a new one is answered 503
and closed, so the process never runs out of descriptors. The server replaces
uvicorn's fixed 0.1 s ticks with a wake-up event, so stopping is immediate,
and after a grace period closes connections that still wait on a slow answer
(the app sees a disconnect and returns) instead of cancelling tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any, Final, TextIO, cast

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from nim_emulator._app import create_app
from nim_emulator._config import EmulatorConfig
from nim_emulator._wire import CONNECTION_EXTENSION
from nim_emulator.exceptions import EmulatorConfigError, EmulatorServerError, ProblemDetailsError

__all__ = [
    "BUSY_RESPONSE",
    "LISTEN_BACKLOG",
    "READY_MESSAGE",
    "loopback_warning",
    "running_emulator",
    "serve",
]

READY_MESSAGE: Final = "reranker-nvidia emulator listening on {url}"
START_TIMEOUT_S: Final = 10.0
GRACE_S: Final = 2.0
# The listen backlog: a benchmark connects hundreds of chunks at once, and a small backlog
# (5 is common in threaded stand-ins) resets or stalls connections beyond it.
LISTEN_BACKLOG: Final = 2048
DROP_FLUSH_S: Final = 5.0

_ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class _Connection:
    """The handle the app finds at ``scope["extensions"][CONNECTION_EXTENSION]``."""

    def __init__(self, protocol: _EmulatorProtocol) -> None:
        self._protocol = protocol

    @property
    def tcp_nodelay(self) -> bool | None:
        return self._protocol.tcp_nodelay

    async def drop(self, *, reset: bool) -> None:
        transport = self._protocol.transport
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()  # FIN once the buffered bytes (a partial body) are written
        try:
            await asyncio.wait_for(self._protocol.gone.wait(), DROP_FLUSH_S)
        except TimeoutError:  # the client stopped reading: give up on the buffered bytes
            transport.abort()
            await self._protocol.gone.wait()


class _Config(uvicorn.Config):
    """uvicorn's settings plus the emulator's two connection guards (module docstring)."""

    def __init__(
        self, *args: Any, header_timeout_s: float, max_connections: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.max_connections = max_connections


def _busy_response() -> bytes:
    """The whole HTTP/1.1 answer to a connection past the limit: the inferred 503 body."""
    error = ProblemDetailsError.inferred(503)
    head = [
        "HTTP/1.1 503 Service Unavailable",
        *(f"{name}: {value}" for name, value in error.headers),
        f"content-length: {len(error.body)}",
        "connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + error.body


BUSY_RESPONSE: Final = _busy_response()


class _EmulatorProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus TCP_NODELAY, a connection handle and the two guards."""

    def __init__(self, config: _Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.gone = asyncio.Event()
        self.tcp_nodelay: bool | None = None
        self._header_timeout = config.header_timeout_s
        self._max_connections = config.max_connections
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_after: object = None  # the cycle before the awaited request head
        inner = cast(_ASGIApp, self.app)
        handle = _Connection(self)

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[CONNECTION_EXTENSION] = handle
            await inner(scope, receive, send)

        self.app = app

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            # Past the limit: answer at once and close, before reading anything.
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.tcp_nodelay = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._waiting_after:
            self._stop_head_timer()  # a new request head was read: its cycle has begun

    def on_response_complete(self) -> None:
        finished = self.cycle
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle is finished:
            self._await_head()  # the next request head has header_timeout_s to arrive

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)
        self.gone.set()

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._waiting_after = self.cycle
        self._head_timer = self.loop.call_later(self._header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()


class _Server(uvicorn.Server):
    """uvicorn's server with an immediate stop and a connection-closing shutdown."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.ready.set()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def request_exit(self) -> None:
        """Ask the server to stop; callable from any thread."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # closes idle keep-alive connections at once
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GRACE_S
        while self.server_state.tasks and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        deadline = loop.time() + 1.0
        while self.server_state.tasks and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for task in list(self.server_state.tasks):
            task.cancel()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


def loopback_warning(host: str) -> str | None:
    """A warning when ``host`` is not loopback (``0.0.0.0``, ``::``, a LAN address), else None.

    A name is resolved as the server would bind it; one that does not resolve
    gets no warning here (binding it fails with its own error).
    """
    try:
        infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        return None
    addresses = {str(info[4][0]).split("%", 1)[0] for info in infos}
    if all(ipaddress.ip_address(address).is_loopback for address in addresses):
        return None
    return (
        f"warning: --host {host} is not a loopback address: anything that can reach this "
        "machine can use the emulator"
    )


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so a logged path cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(
        char
        if char.isprintable() or char == " "
        else f"\\x{ord(char):02x}"
        if ord(char) < 0x100
        else f"\\u{ord(char):04x}"
        for char in text
    )


def _access_log(app: _ASGIApp, stream: TextIO) -> _ASGIApp:
    """``app``, writing ``PEER "METHOD PATH" STATUS N.N ms`` on ``stream`` per HTTP request.

    STATUS is ``-`` when no response was started (a dropped connection).
    """
    lock = threading.Lock()

    async def logged(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def watched(message: Any) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await app(scope, receive, watched)
        finally:
            client = scope.get("client")
            peer = f"{client[0]}:{client[1]}" if client else "-"
            target = _printable(str(scope.get("path", "")))
            query = bytes(scope.get("query_string") or b"")
            if query:
                target += "?" + _printable(query.decode("latin-1"))
            elapsed = (time.perf_counter() - started) * 1000
            code = str(status[0]) if status else "-"
            line = f'{peer} "{scope.get("method", "")} {target}" {code} {elapsed:.1f} ms\n'
            with lock, contextlib.suppress(OSError, ValueError):
                stream.write(line)
                stream.flush()

    return logged


def _bind(host: str, port: int) -> socket.socket:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise EmulatorConfigError(f"port must be 0-65535, not {port!r}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise EmulatorServerError(f"cannot listen on {host}:{port}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise EmulatorServerError(f"cannot listen on {host}:{port}: {exc}") from None
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Runner:
    """One uvicorn server in one background thread, on a socket bound beforehand.

    ``settings`` gives the connection guards (the app's own config when None).
    """

    def __init__(
        self,
        app: Starlette | _ASGIApp,
        host: str,
        port: int,
        settings: EmulatorConfig | None = None,
    ) -> None:
        if settings is None:
            state = getattr(getattr(app, "state", None), "emulator", None)
            settings = getattr(state, "config", None) or EmulatorConfig()
        self._sock = _bind(host, port)
        self.url = _url(self._sock)
        config = _Config(
            app,
            header_timeout_s=settings.header_timeout_s,
            max_connections=settings.connection_limit(),
            loop="asyncio",
            http=_EmulatorProtocol,
            ws="none",
            lifespan="off",
            interface="asgi3",
            log_config=None,
            server_header=False,
            backlog=LISTEN_BACKLOG,  # asyncio listens on the bound socket again with it
        )
        self._server = _Server(config)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"reranker-nvidia-emulator {self.url}", daemon=True
        )

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # noqa: BLE001  (reported by start())
            self._error = exc

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()
        waited = 0.0
        while not self._server.ready.wait(0.005):
            waited += 0.005
            if not self._thread.is_alive() or waited > START_TIMEOUT_S:
                self.stop()
                raise EmulatorServerError(
                    f"the emulator server at {self.url} did not start: {self._error!r}"
                )

    def stop(self) -> None:
        self._server.request_exit()
        if self._thread.is_alive():
            self._thread.join()
        self._sock.close()


@contextlib.contextmanager
def running_emulator(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    app: Starlette | None = None,
) -> Iterator[str]:
    """Run the emulator on ``host:port`` in a background thread; yield its base URL.

    ``port=0`` picks a free port. Pass ``app`` (from :func:`create_app`) instead
    of ``config`` to keep a handle on ``app.state.emulator``. The server is
    stopped, and its thread joined, when the block exits.
    """
    if app is not None and config is not None:
        raise EmulatorConfigError("give running_emulator a config or an app, not both")
    runner = _Runner(app or create_app(config), host, port)
    runner.start()
    try:
        yield runner.url
    finally:
        runner.stop()


def serve(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
    log: TextIO | None = None,
    quiet: bool = False,
) -> int:
    """Serve until SIGINT or SIGTERM (or until ``stop`` is set); return 0.

    Prints ``reranker-nvidia emulator listening on http://HOST:PORT`` on
    ``out`` (stdout) once the server accepts connections, and one line per
    request on ``log`` (stderr) unless ``quiet``. Signal handlers are
    installed only when called from the main thread; from another thread, use
    ``stop``. Raises :class:`EmulatorServerError` when it cannot listen.
    Returns 1 if the server thread dies on its own.
    """
    emulator = create_app(config)
    app: Starlette | _ASGIApp = emulator
    if not quiet:
        app = _access_log(app, log if log is not None else sys.stderr)
    runner = _Runner(app, host, port, emulator.state.emulator.config)
    stop_event = stop if stop is not None else threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop_event.set()

        for handled in (signal.SIGINT, signal.SIGTERM):
            previous[handled] = signal.signal(handled, on_signal)
    try:
        runner.start()
        stream = out if out is not None else sys.stdout
        stream.write(READY_MESSAGE.format(url=runner.url) + "\n")
        stream.flush()
        while not stop_event.wait(0.1):
            if not runner.alive:
                return 1
        return 0
    finally:
        runner.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
