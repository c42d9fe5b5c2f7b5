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

Python's HTTP stack has no dialer ``Control`` hook: the network transport
(``_transport.py``) resolves the host itself and hands each address to the
guard it is given before dialling it. The same layer bounds every socket
operation by the deadline the retry transport sets.
"""

from __future__ import annotations

import httpx

from .._gostd.netip import parse_ip
from ._guard_setting import AsyncGuardPerSetting, GuardPerSetting
from ._transport import (
    AsyncBaseTransport,
    BaseTransport,
    DialGuardError,
    DialRefused,
    join_host_port,
    split_host_port,
)
from .retry_transport import AsyncRetryTransport, RetryTransport
from .validate_baseurl import (
    Resolver,
    base_url_validation_enabled,
    is_disallowed_ip,
    is_not_global_unicast,
)

__all__ = [
    "USER_AGENT",
    "AsyncBaseTransport",
    "BaseTransport",
    "DialGuardError",
    "DialRefused",
    "join_host_port",
    "new_async_base_http_client",
    "new_base_http_client",
    "ssrf_dial_guard",
]

USER_AGENT = "reranker-nvidia (python-httpx)"  # D-HTTP-VERSION
_CLIENT_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}


def new_base_http_client(
    timeout: float,
    *,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
    max_response_bytes: int | None = None,
) -> httpx.Client:
    """Go's ``NewBaseHttpClient``: a client that does not follow redirects and resends a
    request whose pooled connection broke before a response arrived, so an origin may see
    the same request more than once.

    ``timeout`` is in seconds; zero or less means none, and so does one of
    ``MAX_TIMEOUT`` (31 years) or more; NaN is a :class:`ConfigError`. It lives
    in the retry transport, which covers every attempt (the lookup, the dial,
    the request body, interim answers, the headers) and the reading and
    decoding of the body. ``max_response_bytes`` caps the decoded body
    (D-BODY-CAP; ``None``: no cap). For a request made while
    ``MODULES_VALIDATE_BASE_URL`` is on, the network transport runs
    :func:`ssrf_dial_guard` on every address it dials (read per request, not
    once as Go does: D-SSRF-SETTING). ``transport`` replaces the network
    transport (e.g. ``httpx.MockTransport``); the retry and redirect rules
    still apply, the dial guard only to the default one.
    """
    if transport is None:
        # D-SSRF-SETTING: the guard follows MODULES_VALIDATE_BASE_URL at every request.
        transport = GuardPerSetting(
            lambda on: BaseTransport(dial_guard=ssrf_dial_guard if on else None, resolver=resolver),
            base_url_validation_enabled,
        )
    return httpx.Client(
        transport=RetryTransport(transport, timeout, max_response_bytes=max_response_bytes),
        follow_redirects=False,
        timeout=None,  # noqa: S113 - the retry transport enforces Go's one deadline
        trust_env=False,  # D-PROXY
        headers=_CLIENT_HEADERS,
    )


def new_async_base_http_client(
    timeout: float,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    max_response_bytes: int | None = None,
) -> httpx.AsyncClient:
    """The async twin of :func:`new_base_http_client`."""
    if transport is None:
        # D-SSRF-SETTING: the guard follows MODULES_VALIDATE_BASE_URL at every request.
        transport = AsyncGuardPerSetting(
            lambda on: AsyncBaseTransport(
                dial_guard=ssrf_dial_guard if on else None, resolver=resolver
            ),
            base_url_validation_enabled,
        )
    return httpx.AsyncClient(
        transport=AsyncRetryTransport(transport, timeout, max_response_bytes=max_response_bytes),
        follow_redirects=False,
        timeout=None,  # noqa: S113 - the retry transport enforces Go's one deadline
        trust_env=False,  # D-PROXY
        headers=_CLIENT_HEADERS,
    )


def ssrf_dial_guard(network: str, address: str) -> None:
    """Go's ``ssrfDialGuard``: refuse to dial an internal address.

    ``address`` is the resolved ``ip:port``, so a host that resolves to an
    internal IP is caught here even if it slipped past ``validate_base_url``'s
    string-level checks.
    """
    del network  # Go's signature; every network is checked the same way.
    try:
        host, _ = split_host_port(address)
    except ValueError as err:
        raise DialGuardError(f'invalid dial address "{address}": {err}') from None
    ip = parse_ip(host)
    if ip is not None and (is_disallowed_ip(ip) or is_not_global_unicast(ip)):  # D-SSRF-SPECIAL
        raise DialGuardError(f'refusing to dial internal address "{address}"')
