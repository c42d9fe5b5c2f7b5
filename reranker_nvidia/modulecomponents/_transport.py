"""The network layer under the base client: Python-only plumbing of base_client.py.

Go's ``NewBaseHttpClient`` sends through ``http.DefaultTransport`` and, with
``MODULES_VALIDATE_BASE_URL`` on, through a clone whose dialer runs
``ssrfDialGuard`` in its ``Control`` hook, after DNS resolution. Python's
HTTP stack has no such hook, so :class:`BaseTransport` (and its async twin)
is a pooled httpcore transport over a network backend of our own, which

- resolves the host itself and hands each address, before dialling it, to
  the dial guard it was given (base_client.py passes ``ssrf_dial_guard``);
- bounds every socket operation by the deadline the retry transport sets
  (``_deadline.py``), which is how one timeout covers a whole request on the
  synchronous client too: the lookup runs under it (on a thread that is
  abandoned when the deadline passes), a request body goes out in pieces,
  each bounded by what is left, and an operation that would start with
  nothing left is not started;
- never reuses a pooled connection that holds bytes nobody asked for: a
  connection with data beyond the answer it just gave, or readable while
  idle, is closed (Go: "Unsolicited response received on idle HTTP channel");
- on the async side, sends at most :data:`MAX_IN_FLIGHT` requests at once per
  transport; more wait their turn, under their own deadline;
- on the async side, reads what the server sends while a long request body goes
  out, so an early answer (a 413 before the body is in) is read, as the
  synchronous client and Go read it, rather than lost when the write breaks.

Nothing here imports base_client.py: the guard comes in as a callable.

httpcore is used through its public names (its pools' constructor arguments and
``create_connection`` hook, the connections' ``has_expired``/``is_idle``, the
network backend and stream interfaces), with one exception, in one function:
:func:`h11_state_of` reads the h11 state httpcore keeps privately, because the
bytes an answer brought beyond itself are visible nowhere else. That is why
pyproject.toml pins httpcore to the releases checked so far and
tests/test_httpcore_guard.py fails on a layout it does not know
(docs/vendoring.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import select
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

import httpcore
import httpx

from .._gostd.netip import parse_ip
from ._deadline import DeadlineExceeded, current_deadline
from ._deadline import bounded_timeout as _bounded
from .validate_baseurl import (
    ResolveError,
    Resolver,
    resolve_with_timeout,
    system_resolver,
)

if TYPE_CHECKING:
    import anyio
    import h11

# Go's http.DefaultTransport: MaxIdleConns 100, IdleConnTimeout 90 s.
MAX_IDLE_CONNECTIONS = 100
IDLE_CONNECTION_TIMEOUT = 90.0

MAX_IN_FLIGHT = 96
"""Requests one async transport sends at once (D-ASYNC-INFLIGHT); more wait their turn."""

POOL_SHARE = 4
"""Requests one httpcore pool holds at once. Its work per request grows with the requests
times the connections it holds, so the async transport spreads its requests over
``MAX_IN_FLIGHT // POOL_SHARE`` pools rather than crowding one. Four rather than 16 took a
third off the CPU of 100 000 passages with every chunk in flight (docs/benchmarks.md)."""

_WRITE_PIECE = 64 * 1024  # a request body goes out this much at a time, each under the deadline
_LOOP_TURNS = 16  # turns of the event loop a long write gives an answer waiting in the socket

DialGuard: TypeAlias = Callable[[str, str], None]
"""Go's dialer ``Control`` hook: ``(network, "host:port")``; raises :class:`DialGuardError`."""


class DialGuardError(OSError):
    """A dial guard refused the address; ``str()`` is Go's text."""


class DialRefused(httpcore.ConnectError):
    """No address of the host may be dialled: the guard refused every one.

    A type of its own because httpcore's pool re-raises connect errors with
    their cause cut off, so the :class:`DialGuardError` behind it is lost.
    """


def join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_host_port(address: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``; raises ValueError with Go's text."""
    if address.startswith("["):
        end = address.find("]")
        if end == -1 or not address[end + 1 :].startswith(":"):
            raise ValueError(f"address {address}: missing port in address")
        return address[1:end], address[end + 2 :]
    if address.count(":") != 1:
        reason = "missing port in address" if ":" not in address else "too many colons in address"
        raise ValueError(f"address {address}: {reason}")
    host, port = address.split(":", 1)
    return host, port


def _lookup(resolver: Resolver, host: str) -> list[str]:
    """``resolver(host)``, given no longer than the deadline in force leaves."""
    deadline = current_deadline()
    if deadline is None:
        return list(resolver(host))
    try:
        return resolve_with_timeout(resolver, host, max(deadline - time.monotonic(), 0.0))
    except ResolveError:
        if time.monotonic() >= deadline:
            raise DeadlineExceeded from None
        raise


def _dial_plan(host: str, port: int, resolver: Resolver, guard: DialGuard | None) -> list[str]:
    """The addresses to try, in order; raises ConnectError when none may be dialled."""
    if parse_ip(host) is not None:
        addresses = [host]
    else:
        try:
            addresses = _lookup(resolver, host)
        except (ResolveError, OSError, UnicodeError) as err:
            message = str(err) if isinstance(err, ResolveError) else f"lookup {host}: {err}"
            raise httpcore.ConnectError(f"dial tcp: {message}") from err
    if guard is None:
        return addresses
    allowed: list[str] = []
    refusal: DialGuardError | None = None
    for address in addresses:
        try:
            guard("tcp", join_host_port(address, port))
        except DialGuardError as err:
            refusal = refusal or err
        else:
            allowed.append(address)
    if not allowed:
        assert refusal is not None
        first = join_host_port(addresses[0], port) if addresses else host
        raise DialRefused(f"dial tcp {first}: {refusal}") from refusal
    return allowed


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every call is bounded by the deadline in force."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # In pieces, each bounded afresh: a reader that takes every byte slowly but
        # steadily would otherwise keep one write going past the deadline.
        if len(buffer) <= _WRITE_PIECE:
            self._inner.write(buffer, _bounded(timeout))
            return
        view = memoryview(buffer)
        for start in range(0, len(view), _WRITE_PIECE):
            self._inner.write(bytes(view[start : start + _WRITE_PIECE]), _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend plus the deadline bound and, if given, the dial guard."""

    def __init__(self, *, guard: DialGuard | None, resolver: Resolver | None = None) -> None:
        self._inner = httpcore.SyncBackend()
        self._guard = guard
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        plan = _dial_plan(host, port, self._resolver or system_resolver, self._guard)
        failure: Exception | None = None
        for address in plan:
            try:
                stream = self._inner.connect_tcp(
                    address, port, _bounded(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = failure or err
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - never configured
        raise httpcore.ConnectError("unix sockets are not supported")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries are off
        self._inner.sleep(seconds)


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    """The async twin of :class:`_DeadlineStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: Any = _UNKNOWN
        self._early: bytes | Exception | None = None  # what came while a request went out

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        early, self._early = self._early, None
        if isinstance(early, Exception):
            raise early
        if early is not None:
            if len(early) > max_bytes:
                early, self._early = early[:max_bytes], early[max_bytes:]
            return early
        return await self._inner.read(max_bytes, _bounded(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # In pieces, so the event loop's write buffer never holds more than one of them.
        if len(buffer) <= _WRITE_PIECE:
            await self._inner.write(buffer, _bounded(timeout))
            return
        # A long write is watched for an early answer (a 413 before the body is in): the
        # server may close once it has answered, and a write that breaks then makes the
        # event loop drop the socket and the answer waiting in it. Go reads it, as does the
        # synchronous client (the kernel keeps it for a blocking socket).
        import anyio  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

        failure: Exception | None = None
        watching = anyio.CancelScope()
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch, watching, group.cancel_scope)
            view = memoryview(buffer)
            try:
                for start in range(0, len(view), _WRITE_PIECE):
                    await self._let_the_answer_in()
                    if self._early is not None:
                        break
                    piece = bytes(view[start : start + _WRITE_PIECE])
                    await self._inner.write(piece, _bounded(timeout))
            except Exception as err:  # noqa: BLE001 - raised below, outside the task group
                failure = err
                await self._let_the_answer_in(broken=True)
            watching.cancel()  # the watcher ends by itself, not by the task group's cancellation
        if self._early is not None:
            # httpcore reads the answer after a write error (its rule for early answers).
            raise httpcore.WriteError("the server answered before the request was sent")
        if failure is not None:
            raise failure

    async def _let_the_answer_in(self, *, broken: bool = False) -> None:
        """Give the event loop the bytes waiting in the socket before writing more.

        A write that fails on the spot (the peer reset) closes the socket there and then,
        before the loop has read what came first; so while the socket holds something, the
        loop runs first (the watcher reads it: an answer, or a TLS record that is none).
        Once a write has ``broken``, the watcher is given the same turns to finish.
        """
        if self._socket is _UNKNOWN:
            self._socket = self._inner.get_extra_info("socket")
        if self._socket is None:  # pragma: no cover - every stream of ours has a socket
            return
        import anyio  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

        for _ in range(_LOOP_TURNS):  # a few turns of the loop suffice; never spin for long
            if self._early is not None or not (broken or _readable(self._socket)):
                return
            await anyio.sleep(0)

    async def _watch(self, watching: anyio.CancelScope, writing: anyio.CancelScope) -> None:
        """Read what the server sends while a request goes out; end the write if anything came.

        The write ends the watch through ``watching``, the watcher's own scope, so the
        watcher returns rather than dies cancelled: anyio keeps the cancellation of a task
        that dies of it in a reference cycle (its traceback holds the frame that holds it),
        and that cycle would keep the request body alive until the garbage collector ran.
        """
        with watching:
            try:
                self._early = await self._inner.read(_WRITE_PIECE)
            except httpcore.ReadError as err:
                self._early = err
            except Exception as err:  # noqa: BLE001 - read again, and raised, by httpcore's reader
                self._early = httpcore.ReadError(str(err) or type(err).__name__)
                self._early.__cause__ = err
            writing.cancel()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout))
        return _AsyncDeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        # httpcore's pool asks every connection it holds whether it is readable, on every
        # pass, and anyio answers each question by building its table of attributes anew:
        # the socket is looked up once, and polled here.
        if info == "is_readable":
            if self._socket is _UNKNOWN:
                self._socket = self._inner.get_extra_info("socket")
            if self._socket is not None:
                return _readable(self._socket)
        return self._inner.get_extra_info(info)


_UNKNOWN = object()


def _readable(sock: socket.socket) -> bool:
    """httpcore's ``is_socket_readable``: data waiting, or no socket left (a read gives EOF)."""
    descriptor = sock.fileno()
    if descriptor < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([descriptor], [], [], 0)[0])
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The async twin of :class:`GuardedBackend`, on anyio."""

    def __init__(self, *, guard: DialGuard | None, resolver: Resolver | None = None) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._guard = guard
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        resolver = self._resolver or system_resolver
        if parse_ip(host) is not None:
            plan = _dial_plan(host, port, resolver, self._guard)
        else:
            import anyio.to_thread  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

            # Abandoned, not awaited, when the deadline passes: a slow lookup cannot hold the call.
            plan = await anyio.to_thread.run_sync(
                _dial_plan, host, port, resolver, self._guard, abandon_on_cancel=True
            )
        failure: Exception | None = None
        for address in plan:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, _bounded(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = failure or err
                continue
            return _AsyncDeadlineStream(stream)
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - never configured
        raise httpcore.ConnectError("unix sockets are not supported")

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries are off
        await self._inner.sleep(seconds)


_AnyConnection: TypeAlias = httpcore.ConnectionInterface | httpcore.AsyncConnectionInterface


def h11_state_of(connection: _AnyConnection) -> h11.Connection | None:
    """The h11 state of a pooled connection that speaks HTTP/1.1, else ``None``.

    The one reading of httpcore's private attributes (``HTTPConnection._connection``,
    ``HTTP11Connection._h11_state``): no public name reaches h11's buffer. httpcore is
    pinned to the releases whose layout tests/test_httpcore_guard.py has checked.
    """
    http11 = getattr(connection, "_connection", None)
    return getattr(http11, "_h11_state", None)


def _holds_unsolicited_bytes(connection: _AnyConnection) -> bool:
    """Whether an idle HTTP/1.1 connection has bytes buffered beyond the answer it gave.

    httpcore's own check (``has_expired``) sees bytes still in the socket; bytes that
    came in the same read as the answer sit in h11's buffer, where only this sees them.
    """
    state = h11_state_of(connection)
    if state is None or not connection.is_idle():
        return False
    return bool(state.trailing_data[0])


class _Connection(httpcore.HTTPConnection):
    def has_expired(self) -> bool:
        return super().has_expired() or _holds_unsolicited_bytes(self)


class _AsyncConnection(httpcore.AsyncHTTPConnection):
    def has_expired(self) -> bool:
        return super().has_expired() or _holds_unsolicited_bytes(self)


@dataclasses.dataclass(frozen=True)
class _Made:
    """What a pool and each of its connections are built with: our own copy, not httpcore's.

    The TLS context is not among them: a connection to an ``https://`` origin takes the
    process's one (:func:`_tls_context_for`), so a client that only speaks ``http://`` (a
    self-hosted NIM) never loads the CA bundle.
    """

    keepalive_expiry: float
    max_keepalive_connections: int


class _Pool(httpcore.ConnectionPool):
    """httpcore's pool, whose connections expire when they hold unsolicited bytes."""

    def __init__(self, made: _Made, network_backend: httpcore.NetworkBackend) -> None:
        super().__init__(
            ssl_context=None,  # unused: create_connection below gives each connection its own
            max_connections=None,
            max_keepalive_connections=made.max_keepalive_connections,
            keepalive_expiry=made.keepalive_expiry,
            network_backend=network_backend,
        )
        self._made, self._backend = made, network_backend

    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        return _Connection(
            origin=origin,
            ssl_context=_tls_context_for(origin),
            keepalive_expiry=self._made.keepalive_expiry,
            network_backend=self._backend,
        )


class _AsyncPool(httpcore.AsyncConnectionPool):
    """The async twin of :class:`_Pool`."""

    def __init__(self, made: _Made, network_backend: httpcore.AsyncNetworkBackend) -> None:
        super().__init__(
            ssl_context=None,  # unused: create_connection below gives each connection its own
            max_connections=None,
            max_keepalive_connections=made.max_keepalive_connections,
            keepalive_expiry=made.keepalive_expiry,
            network_backend=network_backend,
        )
        self._made, self._backend = made, network_backend

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        return _AsyncConnection(
            origin=origin,
            ssl_context=_tls_context_for(origin),
            keepalive_expiry=self._made.keepalive_expiry,
            network_backend=self._backend,
        )


# httpx's HTTPCORE_EXC_MAP pairs (httpx/_transports/default.py), most specific first.
_EXCEPTION_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Re-raise httpcore's exceptions as httpx's, keeping the original as the cause."""
    # Follows httpx's map_httpcore_exceptions (httpx/_transports/default.py).
    try:
        yield
    except httpx.TransportError:
        raise
    except Exception as err:
        for source, target in _EXCEPTION_MAP:
            if isinstance(err, source):
                raise target(str(err)) from err
        raise


def _core_request(request: httpx.Request, stream: Any) -> httpcore.Request:
    # Follows httpx's HTTPTransport.handle_request: the same request, in httpcore's terms.
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=stream,
        extensions=request.extensions,
    )


class _ResponseStream(httpx.SyncByteStream):
    # Follows httpx's ResponseStream (httpx/_transports/default.py).
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _AsyncResponseStream(httpx.AsyncByteStream):
    # Follows httpx's AsyncResponseStream (httpx/_transports/default.py); gives its
    # in-flight permit back when closed.
    def __init__(self, inner: Any, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        try:
            aclose = getattr(self._inner, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One context per process, shared by every pool: loading the CA bundle costs some 70 ms."""
    return httpx.create_ssl_context(trust_env=False)


def _tls_context_for(origin: httpcore.Origin) -> ssl.SSLContext | None:
    """The shared TLS context for any origin but ``http://``, which needs none (and so not
    the CA bundle's 70 ms), built the first time a connection needs it."""
    return None if origin.scheme == b"http" else _ssl_context()


class BaseTransport(httpx.BaseTransport):
    """Pooled HTTP/1.1 over :class:`GuardedBackend` (Go: ``http.DefaultTransport``).

    ``dial_guard`` runs on every address about to be dialled (Go: the
    dialer's ``Control`` hook); ``None`` dials without one.
    """

    def __init__(
        self, *, dial_guard: DialGuard | None = None, resolver: Resolver | None = None
    ) -> None:
        self._pool = _Pool(
            _Made(IDLE_CONNECTION_TIMEOUT, MAX_IDLE_CONNECTIONS),
            GuardedBackend(guard=dial_guard, resolver=resolver),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Follows httpx's HTTPTransport.handle_request.
        assert isinstance(request.stream, httpx.SyncByteStream)
        with _httpx_errors():
            response = self._pool.handle_request(_core_request(request, request.stream))
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class AsyncBaseTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`BaseTransport`."""

    def __init__(
        self, *, dial_guard: DialGuard | None = None, resolver: Resolver | None = None
    ) -> None:
        import anyio.lowlevel  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

        backend = AsyncGuardedBackend(guard=dial_guard, resolver=resolver)
        count = max(MAX_IN_FLIGHT // POOL_SHARE, 1)
        made = _Made(IDLE_CONNECTION_TIMEOUT, max(MAX_IDLE_CONNECTIONS // count, 1))
        self._pools = [_AsyncPool(made, backend) for _ in range(count)]
        self._load = [0] * count  # requests each pool holds now
        self._permits: anyio.lowlevel.RunVar[anyio.Semaphore] = anyio.lowlevel.RunVar(
            f"reranker_nvidia_in_flight_{id(self)}"
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Follows httpx's AsyncHTTPTransport.handle_async_request, one of MAX_IN_FLIGHT.
        assert isinstance(request.stream, httpx.AsyncByteStream)
        permits = self._permits.get(None)
        if permits is None:  # one per event loop: a transport may outlive its loop
            import anyio  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

            permits = anyio.Semaphore(MAX_IN_FLIGHT)
            self._permits.set(permits)
        await permits.acquire()
        shard = self._load.index(min(self._load))
        self._load[shard] += 1

        def release() -> None:
            self._load[shard] -= 1
            permits.release()

        try:
            with _httpx_errors():
                response = await self._pools[shard].handle_async_request(
                    _core_request(request, request.stream)
                )
        except BaseException:
            release()
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_AsyncResponseStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
