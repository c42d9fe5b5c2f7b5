"""The HTTP client every module request goes through.

Port of usecases/modulecomponents/base_client.go (``NewBaseHttpClient``,
``ssrfDialGuard``). As in Go:

- redirects are never followed: a 3xx is the final answer;
- the client timeout is enforced by the retry transport (retry_transport.py)
  and covers every attempt and the reading of the body;
- with ``MODULES_VALIDATE_BASE_URL`` on, a guard runs after DNS resolution,
  on the very address about to be dialled, and refuses internal ones, so a
  host that resolves to a public address at validation time and to an
  internal one at connect time (DNS rebinding) is still caught.

Python's HTTP stack has no ``Control`` hook, so the guard lives in an
httpcore network backend that resolves the host itself and dials the
addresses one by one. The same backend bounds every socket operation by the
deadline the retry transport sets, which is how one timeout covers a whole
request on the synchronous client too.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import anyio
import httpcore
import httpx

from reranker_nvidia._gostd.netip import parse_ip
from reranker_nvidia.modulecomponents.retry_transport import (
    AsyncRetryTransport,
    RetryTransport,
)
from reranker_nvidia.modulecomponents.retry_transport import bounded_timeout as _bounded
from reranker_nvidia.modulecomponents.validate_baseurl import (
    ResolveError,
    Resolver,
    base_url_validation_enabled,
    is_disallowed_ip,
    system_resolver,
)

# Go's http.DefaultTransport: MaxIdleConns 100, IdleConnTimeout 90 s.
MAX_IDLE_CONNECTIONS = 100
IDLE_CONNECTION_TIMEOUT = 90.0
USER_AGENT = "reranker-nvidia (python-httpx)"


class DialGuardError(OSError):
    """Go's ``ssrfDialGuard`` refused the address; ``str()`` is Go's text."""


class DialRefused(httpcore.ConnectError):
    """No address of the host may be dialled: the guard refused every one.

    A type of its own because httpcore's pool re-raises connect errors with
    their cause cut off, so the :class:`DialGuardError` behind it is lost.
    """


def join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_host_port(address: str) -> tuple[str, str]:
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


def ssrf_dial_guard(network: str, address: str) -> None:
    """Refuse to dial an internal IP; ``address`` is ``host:port`` as Go dials it."""
    del network  # Go's signature; every network is checked the same way.
    try:
        host, _ = _split_host_port(address)
    except ValueError as err:
        raise DialGuardError(f'invalid dial address "{address}": {err}') from None
    ip = parse_ip(host)
    if ip is not None and is_disallowed_ip(ip):
        raise DialGuardError(f'refusing to dial internal address "{address}"')


def _dial_plan(host: str, port: int, resolver: Resolver, guard: bool) -> list[str]:
    """The addresses to try, in order; raises ConnectError when none may be dialled."""
    if parse_ip(host) is not None:
        addresses = [host]
    else:
        try:
            addresses = list(resolver(host))
        except (ResolveError, OSError, UnicodeError) as err:
            message = str(err) if isinstance(err, ResolveError) else f"lookup {host}: {err}"
            raise httpcore.ConnectError(f"dial tcp: {message}") from err
    if not guard:
        return addresses
    allowed: list[str] = []
    refusal: DialGuardError | None = None
    for address in addresses:
        try:
            ssrf_dial_guard("tcp", join_host_port(address, port))
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
        self._inner.write(buffer, _bounded(timeout))

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
    """httpcore's socket backend plus the deadline bound and, if on, the dial guard."""

    def __init__(self, *, guard: bool, resolver: Resolver | None = None) -> None:
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
        if not self._guard and self._resolver is None:
            stream = self._inner.connect_tcp(
                host, port, _bounded(timeout), local_address, socket_options
            )
            return _DeadlineStream(stream)
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

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _bounded(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _bounded(timeout))

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
        return self._inner.get_extra_info(info)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The async twin of :class:`GuardedBackend`, on anyio."""

    def __init__(self, *, guard: bool, resolver: Resolver | None = None) -> None:
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
        if not self._guard and self._resolver is None:
            stream = await self._inner.connect_tcp(
                host, port, _bounded(timeout), local_address, socket_options
            )
            return _AsyncDeadlineStream(stream)
        resolver = self._resolver or system_resolver
        plan = await anyio.to_thread.run_sync(_dial_plan, host, port, resolver, self._guard)
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
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()


def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=False)


class BaseTransport(httpx.BaseTransport):
    """Pooled HTTP/1.1 over :class:`GuardedBackend` (Go: ``http.DefaultTransport``)."""

    def __init__(self, *, guard: bool | None = None, resolver: Resolver | None = None) -> None:
        guard = base_url_validation_enabled() if guard is None else guard
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=None,
            max_keepalive_connections=MAX_IDLE_CONNECTIONS,
            keepalive_expiry=IDLE_CONNECTION_TIMEOUT,
            network_backend=GuardedBackend(guard=guard, resolver=resolver),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
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

    def __init__(self, *, guard: bool | None = None, resolver: Resolver | None = None) -> None:
        guard = base_url_validation_enabled() if guard is None else guard
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=None,
            max_keepalive_connections=MAX_IDLE_CONNECTIONS,
            keepalive_expiry=IDLE_CONNECTION_TIMEOUT,
            network_backend=AsyncGuardedBackend(guard=guard, resolver=resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        with _httpx_errors():
            response = await self._pool.handle_async_request(_core_request(request, request.stream))
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_AsyncResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


_CLIENT_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}


def new_base_http_client(
    timeout: float,
    *,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
) -> httpx.Client:
    """Go's ``NewBaseHttpClient``: retries and the timeout around the base transport.

    ``timeout`` is in seconds; zero or less means none. ``transport`` replaces
    the network transport (e.g. ``httpx.MockTransport``); the retry and
    redirect rules still apply, the dial guard only to the default one.
    """
    base = transport if transport is not None else BaseTransport(resolver=resolver)
    return httpx.Client(
        transport=RetryTransport(base, timeout),
        follow_redirects=False,
        timeout=None,  # noqa: S113 - the retry transport enforces Go's one deadline
        trust_env=False,
        headers=_CLIENT_HEADERS,
    )


def new_async_base_http_client(
    timeout: float,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> httpx.AsyncClient:
    """The async twin of :func:`new_base_http_client`."""
    base = transport if transport is not None else AsyncBaseTransport(resolver=resolver)
    return httpx.AsyncClient(
        transport=AsyncRetryTransport(base, timeout),
        follow_redirects=False,
        timeout=None,  # noqa: S113 - the retry transport enforces Go's one deadline
        trust_env=False,
        headers=_CLIENT_HEADERS,
    )
