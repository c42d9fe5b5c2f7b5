"""How Go's ``net`` and ``net/http`` word a failed request, from httpx's exceptions.

Python-only plumbing of the HTTP client (it knows httpx and httpcore, so it
is not part of ``_gostd``, which knows only the standard library).

Weaviate wraps a transport failure as ``send POST request: Post "<url>":
<error>`` and a failed body read as ``read response body: <error>``. This
module turns the exceptions httpx and httpcore raise into Go's ``<error>``
text for the cases that matter: a timeout (``context deadline exceeded``), a
dropped connection (``EOF``, ``unexpected EOF``), a reset or broken pipe, a
refused connection, a failed lookup, and the resend count. Anything else is
described by Python's own message.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpcore
import httpx

from .._gostd import url as gourl

if TYPE_CHECKING:
    import anyio


def chain(err: BaseException) -> Iterator[BaseException]:
    """``err``, then its cause (or context), and so on."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def host_port(url: str) -> str:
    """``host:port`` of ``url`` as Go prints a dialled address (default ports filled in)."""
    try:
        parsed = gourl.parse(url)
    except gourl.URLError:
        return url
    host = parsed.hostname()
    port = parsed.port() or ("443" if parsed.scheme == "https" else "80")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe_connect(err: BaseException, address: str) -> str:
    text = str(err)
    if text.startswith("dial tcp"):
        return text
    for link in chain(err):
        if isinstance(link, ConnectionRefusedError):
            return f"dial tcp {address}: connect: connection refused"
        if isinstance(link, socket.gaierror):
            return f"dial tcp: lookup {address.rsplit(':', 1)[0].strip('[]')}: no such host"
        if isinstance(link, OSError) and link.strerror:
            return f"dial tcp {address}: connect: {link.strerror.lower()}"
    return f"dial tcp {address}: {text}"


def _describe_broken(link: anyio.BrokenResourceError, reading: bool) -> str:
    """anyio's word for a socket that failed, by the OS error behind it, as Go words it."""
    cause = link.__cause__
    if isinstance(cause, ConnectionResetError):
        return "read: connection reset by peer"
    if isinstance(cause, BrokenPipeError):
        return "write: broken pipe"
    side = "read" if reading else "write"
    if isinstance(cause, OSError) and cause.strerror:
        return f"{side}: {cause.strerror.lower()}"
    return "read: connection reset by peer" if reading else "write: broken pipe"


def describe(err: BaseException, url: str, *, reading: bool = False) -> str:
    """Go's text for ``err``, raised while requesting ``url`` (``reading``: its body)."""
    import anyio  # noqa: PLC0415 - only for a failed request: the sync client never loads anyio

    attempts, cause = getattr(err, "attempts", None), getattr(err, "cause", None)
    if isinstance(attempts, int) and isinstance(cause, BaseException):
        # The retry transport's RetriesExhausted: Go's "after N attempts: <error>".
        return f"after {attempts} attempts: {describe(cause, url, reading=reading)}"
    if isinstance(err, httpx.TimeoutException | httpcore.TimeoutException | TimeoutError):
        return "context deadline exceeded"
    if isinstance(err, httpx.ConnectError | httpcore.ConnectError):
        return _describe_connect(err, host_port(url))
    for link in chain(err):
        if isinstance(link, ConnectionResetError):
            return "read: connection reset by peer"
        if isinstance(link, BrokenPipeError):
            return "write: broken pipe"
        if isinstance(link, anyio.BrokenResourceError):
            return _describe_broken(link, reading)
        if isinstance(link, ssl.SSLEOFError | anyio.EndOfStream | EOFError):
            return "unexpected EOF"
        if isinstance(link, ssl.SSLError):
            return f"tls: {link.reason or link}"
        if isinstance(link, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
            text = str(link)
            if "without sending a response" in text:
                return "EOF"
            if "without sending complete message body" in text or "unexpectedly closed" in text:
                return "unexpected EOF"
    return str(err) or type(err).__name__
