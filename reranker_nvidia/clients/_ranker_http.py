"""Sending a prepared request with httpx, and wording its failures as Go's ``net/http``.

What both clients of ranker.py share around the network: the checks Go's
``http.Client.Do`` makes before it dials, httpx's own URL checks
(D-HTTPX-URL), the ``send POST request`` / ``read response body`` wording of
a transport failure, the key holder and the progress counter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from .._gostd import url as gourl
from ..errors import (
    DeadlineExceededError,
    DialRefusedError,
    RequestBuildError,
    TransportError,
)
from ..modulecomponents import _http_errors as gonet
from ..modulecomponents.base_client import DialRefused


def build_request(
    http: httpx.Client | httpx.AsyncClient, url: str, headers: dict[str, str], body: bytes
) -> httpx.Request:
    """The request ``Do`` sends: Go's ``Do`` refusals first, then httpx's own URL checks.

    A URL without an HTTP scheme or without a host is refused as Go's ``Do``
    refuses it (``send POST request: …``); a URL httpx cannot send is
    ``create POST request: parse …`` (D-HTTPX-URL).
    """
    parsed = gourl.parse(url)  # prepare_request parsed it already, so this cannot fail
    if parsed.scheme not in ("http", "https"):
        raise TransportError(
            f"send POST request: Post {gourl.go_quote(gourl.strip_password(url))}: "
            f"unsupported protocol scheme {gourl.go_quote(parsed.scheme)}"
        )
    if parsed.hostname() == "":
        raise TransportError(
            f"send POST request: Post {gourl.go_quote(gourl.strip_password(url))}: "
            "http: no Host in request URL"
        )
    try:
        return http.build_request("POST", url, headers=headers, content=body)
    except (httpx.InvalidURL, ValueError) as err:
        raise RequestBuildError(
            f"create POST request: parse {gourl.go_quote(url)}: {err}"
        ) from None


def transport_error(err: BaseException, url: str, *, reading: bool = False) -> TransportError:
    """Go's ``send POST request: Post "<url>": …`` or ``read response body: …``."""
    reason = gonet.describe(err, url)
    if reading:
        message = f"read response body: {reason}"
    else:
        message = f"send POST request: Post {gourl.go_quote(gourl.strip_password(url))}: {reason}"
    if reason == "context deadline exceeded" or reason.endswith(": context deadline exceeded"):
        return DeadlineExceededError(message)
    if any(isinstance(link, DialRefused) for link in gonet.chain(err)):
        return DialRefusedError(message)
    return TransportError(message)


class APIKey:
    """The key read at start; its ``repr`` never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

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
