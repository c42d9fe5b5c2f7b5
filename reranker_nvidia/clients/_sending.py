"""Sending what the rank flow asks for with httpx, and wording failures as Go's ``net/http``.

ranker.py's ``perform_rank`` yields a :class:`Post` and is sent an
:class:`Answer`; :func:`send` (on the calling thread) and :func:`send_async`
(on anyio) make one from the other: Go's ``httpClient.Do`` and
``io.ReadAll``, under the client's body cap. Also here: the checks ``Do``
makes before it dials, httpx's own URL checks (D-HTTPX-URL), the ``send POST
request`` / ``read response body`` wording of a transport failure, the key
holder, and the progress counter.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._gostd import url as gourl
from ..errors import (
    DeadlineExceededError,
    DialRefusedError,
    RequestBuildError,
    TransportError,
)
from ..modulecomponents import _http_errors as gonet
from ..modulecomponents._deadline import aread_capped, read_capped
from ..modulecomponents.base_client import DialRefused


@dataclass(frozen=True, slots=True)
class Post:
    """What the rank flow yields: one request to send. ``repr`` hides the key."""

    url: str
    headers: dict[str, str]
    body: bytes
    on_sent: Callable[[], None] | None = None
    """Called as the request's headers go out (the rate limit's clock: D-EXT-RPM)."""
    method: str = "POST"
    """``GET`` for ``waitReady``'s polls (D-EXT-WAIT-READY)."""

    def __repr__(self) -> str:
        shown = {k: ("Bearer ***" if k == "Authorization" else v) for k, v in self.headers.items()}
        return f"Post(url={self.url!r}, headers={shown!r}, body=<{len(self.body)} bytes>)"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no error may show: the key this request carries (D-SECRET-REDACT)."""
        authorization = self.headers.get("Authorization")
        if authorization is None:  # D-EXT-ENDPOINT: a keyless request to a self-hosted NIM
            return ()
        return (authorization.removeprefix("Bearer "),)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the rank flow is sent back: the status, the headers and the whole body."""

    status: int
    headers: httpx.Headers = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def announces_end_of_life(self) -> bool:
        """Whether a ``Deprecation`` or ``Sunset`` header came (D-EXT-LIFECYCLE)."""
        return "deprecation" in self.headers or "sunset" in self.headers


def request_headers(api_key: str) -> dict[str, str]:
    """Go's three headers; without a key no ``Authorization`` (D-EXT-ENDPOINT's ``ranking``)."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    return {"Authorization": f"Bearer {api_key}", **headers} if api_key else headers


def send(http: httpx.Client, post: Post, cap: int | None) -> Answer:
    """Go's ``Do`` and ``io.ReadAll`` for the synchronous client."""
    request = build_request(http, post.url, post.headers, post.body, post.method)
    if post.on_sent is not None:
        request.extensions["trace"] = SentTrace(post.on_sent)
    try:
        response = http.send(request, stream=True)
    except httpx.HTTPError as err:
        raise transport_error(err, post.url, method=post.method) from err
    try:
        body = read_capped(response, cap)
    except httpx.HTTPError as err:
        raise transport_error(err, post.url, reading=True) from err
    finally:
        response.close()
        unbound(response)
    return Answer(response.status_code, response.headers, body)


async def send_async(http: httpx.AsyncClient, post: Post, cap: int | None) -> Answer:
    """The async twin of :func:`send`."""
    request = build_request(http, post.url, post.headers, post.body, post.method)
    if post.on_sent is not None:
        request.extensions["trace"] = SentTrace(post.on_sent).asynchronous
    try:
        response = await http.send(request, stream=True)
    except httpx.HTTPError as err:
        raise transport_error(err, post.url, method=post.method) from err
    try:
        body = await aread_capped(response, cap)
    except httpx.HTTPError as err:
        raise transport_error(err, post.url, reading=True) from err
    finally:
        await response.aclose()
        unbound(response)
    return Answer(response.status_code, response.headers, body)


_SPENT = httpx.ByteStream(b"")


def unbound(response: httpx.Response) -> None:
    """Break the cycle httpx makes between a response and its body stream, once read.

    httpx binds the stream to its response and the response to it; the cycle holds the
    request, and with it the request body, until the garbage collector runs. Broken here,
    a request's memory goes as soon as its answer has been read.
    """
    response.stream = _SPENT


_SENT_EVENTS = frozenset(
    {"http11.send_request_headers.started", "http2.send_request_headers.started"}
)


class SentTrace:
    """httpcore's ``trace`` request extension, calling ``on_sent`` as the headers go out."""

    __slots__ = ("_on_sent",)

    def __init__(self, on_sent: Callable[[], None]) -> None:
        self._on_sent = on_sent

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        del info
        if name in _SENT_EVENTS:
            self._on_sent()

    async def asynchronous(self, name: str, info: dict[str, Any]) -> None:
        self(name, info)


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: bytes,
    method: str = "POST",
) -> httpx.Request:
    """The request ``Do`` sends: Go's ``Do`` refusals first, then httpx's own URL checks.

    A URL without an HTTP scheme or without a host is refused as Go's ``Do``
    refuses it (``send POST request: …``); a URL httpx cannot send is
    ``create POST request: parse …`` (D-HTTPX-URL).
    """
    parsed = gourl.parse(url)  # perform_rank parsed it already, so this cannot fail
    sending = _sending(method, url)
    if parsed.scheme not in ("http", "https"):
        raise TransportError(
            f"{sending}: unsupported protocol scheme {gourl.go_quote(parsed.scheme)}"
        )
    if parsed.hostname() == "":
        raise TransportError(f"{sending}: http: no Host in request URL")
    try:
        return http.build_request(method, url, headers=headers, content=body or None)
    except (httpx.InvalidURL, ValueError) as err:
        raise RequestBuildError(
            f"create {method} request: parse {gourl.go_quote(url)}: {err}"
        ) from None


def _sending(method: str, url: str) -> str:
    """Go's ``send POST request: Post "<url>"`` (the password masked)."""
    return f"send {method} request: {method.title()} {gourl.go_quote(gourl.strip_password(url))}"


def transport_error(
    err: BaseException, url: str, *, reading: bool = False, method: str = "POST"
) -> TransportError:
    """Go's ``send POST request: Post "<url>": …`` or ``read response body: …``."""
    reason = gonet.describe(err, url, reading=reading)
    message = f"read response body: {reason}" if reading else f"{_sending(method, url)}: {reason}"
    if reason == "context deadline exceeded" or reason.endswith(": context deadline exceeded"):
        return DeadlineExceededError(message)
    if any(isinstance(link, DialRefused) for link in gonet.chain(err)):
        return DialRefusedError(message)
    return TransportError(message)


class APIKey:
    """The client's key and where it came from; its ``repr`` never shows it.

    ``APIKey.given(None)`` reads ``NVIDIA_APIKEY`` once, as module.go does at
    start; an error about the key names its ``source``, the variable or the
    ``api_key`` argument (D-KEY-HEADER).
    """

    __slots__ = ("source", "value")

    def __init__(self, value: str, source: str = "the api_key argument") -> None:
        self.value = value
        self.source = source

    @classmethod
    def given(cls, api_key: str | APIKey | None, variable: str) -> APIKey:
        """The key a client is built with: ``api_key``, or the environment's ``variable``."""
        if isinstance(api_key, APIKey):
            return api_key
        if api_key is None:
            return cls(os.environ.get(variable, ""), variable)
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str or None, not {type(api_key).__name__}")
        return cls(api_key)

    @property
    def from_environment(self) -> bool:
        return self.source != "the api_key argument"

    def __repr__(self) -> str:
        return "'***'" if self.value else "''"


class Progress:
    """Counts ranked documents and reports them, from any thread."""

    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self._total = total
        self._done = 0
        self._callback = callback
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        if self._callback is None:
            return
        with self._lock:
            self._done += count
            done = self._done
        self._callback(done, self._total)
