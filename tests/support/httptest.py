"""A loopback HTTP/1.1 server for tests: Python's twin of Go's ``httptest.NewServer``.

Each test gives a handler ``(request, writer) -> None``. The writer can
answer (``respond``), answer in pieces (``write_head`` / ``write`` /
``flush``), close the connection without answering (``drop``, what a client
sees when a server closes a connection it thought idle), or block until the
server closes (``block``). Connections are kept alive, so a client's pool is
exercised for real, and TCP_NODELAY is on.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    """What the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Writer:
    """How a handler answers."""

    def __init__(self, handler: _Handler, release: threading.Event) -> None:
        self._handler = handler
        self._release = release
        self.answered = False

    def respond(
        self,
        status: int = 200,
        body: bytes | str | Any = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(body, str):
            payload = body.encode()
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.write_head(status, {"Content-Length": str(len(payload)), **(headers or {})})
        self.write(payload)

    def write_head(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.answered = True
        self._handler.send_response_only(status)
        for name, value in (headers or {}).items():
            self._handler.send_header(name, value)
        self._handler.end_headers()
        self._handler.wfile.flush()

    def write(self, data: bytes) -> None:
        self._handler.wfile.write(data)

    def flush(self) -> None:
        self._handler.wfile.flush()

    def drop(self) -> None:
        """Close the connection without a response."""
        self.answered = True
        self._handler.close_connection = True
        self._handler.connection.shutdown(socket.SHUT_RDWR)

    def block(self) -> None:
        """Wait until the server is closed (Go's ``<-release``)."""
        self._release.wait()
        self._handler.close_connection = True


Handler = Callable[[Request, Writer], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections += 1

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=self.path,
            headers={k: v for k, v in self.headers.items()},
            body=body,
        )
        with self.server.lock:
            self.server.requests.append(request)
        writer = Writer(self, self.server.release)
        self.server.handler(request, writer)
        if not writer.answered:
            writer.respond(200)

    do_GET = do_POST = do_PUT = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: Handler) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.handler = handler
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.connections = 0


@dataclass
class TestServer:
    """A running server: ``url``, the ``requests`` it got, ``connections`` it accepted."""

    __test__ = False

    _server: _Server
    _thread: threading.Thread
    url: str = field(init=False)

    def __post_init__(self) -> None:
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Request]:
        with self._server.lock:
            return list(self._server.requests)

    @property
    def connections(self) -> int:
        return self._server.connections

    def close(self) -> None:
        self._server.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


StartServer = Callable[[Handler], TestServer]
"""The type of the ``http_server`` fixture (tests/conftest.py): start a server, get it back."""


def start_server(handler: Handler) -> TestServer:
    server = _Server(handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return TestServer(server, thread)


# --------------------------------------------------------------------------
# Raw-socket servers: for faults a well-behaved HTTP server cannot make
# --------------------------------------------------------------------------

RawHandler = Callable[["RawConnection"], None]


class RawConnection:
    """One accepted connection, for a raw handler: read requests, write any bytes."""

    def __init__(self, sock: socket.socket, closing: threading.Event) -> None:
        self.sock = sock
        self.closing = closing
        self._buffer = b""

    def read_head(self) -> bytes | None:
        """The next request's head (up to the blank line), or ``None`` at EOF."""
        while b"\r\n\r\n" not in self._buffer:
            chunk = self.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        return head

    def read_request(self) -> bytes | None:
        """The next request's body (by ``Content-Length``), or ``None`` at EOF."""
        head = self.read_head()
        if head is None:
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self._buffer) < length:
            chunk = self.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return body

    def recv(self, size: int) -> bytes:
        try:
            return self.sock.recv(size)
        except OSError:
            return b""

    def send(self, data: bytes) -> bool:
        """Write ``data``; ``False`` once the client has gone."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep, unless the server is closing; ``False`` if it is."""
        return not self.closing.wait(seconds)


def http_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 response with ``Content-Length``."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class RawServer:
    """A running raw server: ``url``, and how many connections it accepted."""

    __test__ = False

    url: str
    _listener: socket.socket
    _closing: threading.Event
    _thread: threading.Thread
    connections: int = 0
    _sockets: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for sock in list(self._sockets):
            with _suppress_os_error():
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._thread.join(timeout=5)


class _suppress_os_error:  # noqa: N801 - used as a statement
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return isinstance(exc[1], OSError)


def start_raw_server(handler: RawHandler) -> RawServer:
    """Serve each connection on its own thread with ``handler``, until closed."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.05)  # so the accept loop sees the server closing
    closing = threading.Event()
    host, port = listener.getsockname()[:2]
    holder: list[RawServer] = []

    def serve(sock: socket.socket) -> None:
        try:
            handler(RawConnection(sock, closing))
        finally:
            with _suppress_os_error():
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def accept() -> None:
        while not closing.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server = holder[0]
            server.connections += 1
            server._sockets.append(sock)
            threading.Thread(target=serve, args=(sock,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    server = RawServer(f"http://{host}:{port}", listener, closing, thread)
    holder.append(server)
    thread.start()
    return server
