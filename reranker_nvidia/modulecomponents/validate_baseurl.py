"""SSRF validation of base URLs.

Port of usecases/modulecomponents/validate_baseurl.go. With
``MODULES_VALIDATE_BASE_URL`` on, a base URL must be ``https``, have a host,
and neither name nor resolve to an internal address. Off (the default),
every URL passes. Only a base URL from the ``X-Nvidia-Baseurl`` header is
validated; the connect-time guard in base_client.py covers every connection.
Beside Go's ``is_disallowed_ip``, every address that is not global unicast is
refused too (``is_not_global_unicast``, D-SSRF-SPECIAL).

The resolver can be replaced (``resolver=``) so tests need no DNS.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence

from .._gostd import netip
from .._gostd import url as gourl
from .._gostd.context import HeaderSource
from .._gostd.netip import IPAddress, parse_ip
from ..entities.config.helpers import enabled
from ..errors import BaseURLError
from .header_values import get_value_from_context

BLOCKED_HOSTNAMES = ("localhost",)
BLOCKED_HOST_SUFFIXES = (".local", ".internal", ".localdomain")
RESOLVE_TIMEOUT = 3.0
"""Seconds a validation may spend resolving a host (Go: ``3*time.Second``)."""

Resolver = Callable[[str], Sequence[str]]
"""``host -> IP address strings``; raises :class:`ResolveError` when it cannot."""


class ResolveError(OSError):
    """A host name did not resolve. ``str()`` reads like Go's ``lookup <host>: …``."""


def system_resolver(host: str) -> list[str]:
    """Resolve ``host`` with the operating system, as Go's ``LookupHost`` does."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        reason = "no such host" if err.errno in _NO_SUCH_HOST else str(err.strerror)
        raise ResolveError(f"lookup {host}: {reason}") from None
    except UnicodeError:
        raise ResolveError(f"lookup {host}: no such host") from None
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


_NO_SUCH_HOST = {
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY")
    if hasattr(socket, name)
}


def resolve_with_timeout(resolver: Resolver, host: str, timeout: float) -> list[str]:
    """Run ``resolver`` for at most ``timeout`` seconds.

    The lookup runs in a daemon thread, so a resolver that hangs can neither
    block the caller past ``timeout`` nor keep the process from exiting.
    """
    outcome: list[list[str] | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(list(resolver(host)))
        except BaseException as err:  # noqa: BLE001 - handed back to the caller's thread
            outcome.append(err)
        finally:
            done.set()

    threading.Thread(target=run, name="reranker-nvidia-resolve", daemon=True).start()
    if not done.wait(timeout):
        raise ResolveError(f"lookup {host}: i/o timeout")
    result = outcome[0]
    if isinstance(result, ResolveError):
        raise result
    if isinstance(result, OSError | UnicodeError):
        raise ResolveError(f"lookup {host}: {result}")
    if isinstance(result, BaseException):
        raise result
    return result


def base_url_validation_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``MODULES_VALIDATE_BASE_URL`` is on (read at every call, as in Go)."""
    env = os.environ if environ is None else environ
    return enabled(env.get("MODULES_VALIDATE_BASE_URL", ""))


def validated_base_url_from_header(
    headers: HeaderSource,
    header_key: str,
    fallback: str,
    *,
    resolver: Resolver | None = None,
) -> str:
    """The header's base URL once it passes validation, else ``fallback`` if absent."""
    header_base_url = get_value_from_context(headers, header_key)
    if header_base_url == "":
        return fallback
    validate_base_url(header_base_url, resolver=resolver)
    return header_base_url


def is_disallowed_ip(ip: IPAddress) -> bool:
    """Whether ``ip`` is the local host or an internal network (Go: ``isDisallowedIP``).

    Used by :func:`validate_base_url` and by the dial guard, which sees the
    address actually resolved and so also catches DNS rebinding.
    """
    return (
        netip.is_loopback(ip)
        or netip.is_private(ip)
        or netip.is_link_local_unicast(ip)
        or netip.is_link_local_multicast(ip)
        or netip.is_unspecified(ip)
    )


def is_not_global_unicast(ip: IPAddress) -> bool:
    """Whether ``ip`` is outside global unicast space (not Go's; D-SSRF-SPECIAL).

    Checked beside :func:`is_disallowed_ip` wherever it is: the special-purpose
    ranges of IANA's registries that are not globally reachable, multicast,
    reserved and site-local space, and NAT64, 6to4 or Teredo addresses whose
    embedded IPv4 address is itself refused.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return any(ip in net for net in _V4_NOT_GLOBAL)
    if any(ip in net for net in _V6_GLOBAL_EXCEPTIONS):
        return False
    embedded = netip.embedded_ipv4(ip)
    if embedded:
        return any(is_disallowed_ip(v4) or is_not_global_unicast(v4) for v4 in embedded)
    return ip not in _V6_GLOBAL_UNICAST or any(ip in net for net in _V6_NOT_GLOBAL)


def validate_base_url(base_url: str, *, resolver: Resolver | None = None) -> None:
    """Raise :class:`BaseURLError` with Go's text when ``base_url`` may not be used."""
    if not base_url_validation_enabled() or base_url == "":
        return
    try:
        parsed = gourl.parse(base_url)
    except gourl.URLError as err:
        raise BaseURLError(f"invalid baseURL: {err}") from None
    if parsed.scheme != "https":
        raise BaseURLError("baseURL must use HTTPS")
    host = parsed.hostname()
    if host == "":
        raise BaseURLError("baseURL must have a non-empty host")

    ip = parse_ip(host)
    if ip is not None:
        if is_disallowed_ip(ip) or is_not_global_unicast(ip):  # D-SSRF-SPECIAL
            raise BaseURLError("baseURL cannot target internal addresses")
        return

    lower = host.lower()
    if lower in BLOCKED_HOSTNAMES or lower.endswith(BLOCKED_HOST_SUFFIXES):
        raise BaseURLError("baseURL cannot target internal addresses")

    try:
        addresses = resolve_with_timeout(resolver or system_resolver, host, RESOLVE_TIMEOUT)
    except ResolveError as err:
        raise BaseURLError(f"baseURL host could not be resolved: {err}") from None
    for address in addresses:
        resolved = parse_ip(address)
        if resolved is not None and (
            is_disallowed_ip(resolved) or is_not_global_unicast(resolved)  # D-SSRF-SPECIAL
        ):
            raise BaseURLError("baseURL cannot target internal addresses")


# D-SSRF-SPECIAL: the blocks of IANA's IPv4 and IPv6 special-purpose address registries that
# are not globally reachable, plus multicast and the reserved space. The transition prefixes
# (NAT64, 6to4, Teredo) are judged by the address they carry instead. Go's own ranges are
# repeated so the helper stands on its own.
_V4_NOT_GLOBAL = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network" (RFC 791)
        "10.0.0.0/8",  # private use (RFC 1918)
        "100.64.0.0/10",  # shared address space, CGNAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link local
        "172.16.0.0/12",  # private use
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890), all of it
        "192.0.2.0/24",  # documentation, TEST-NET-1 (RFC 5737)
        "192.168.0.0/16",  # private use
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation, TEST-NET-2
        "203.0.113.0/24",  # documentation, TEST-NET-3
        "224.0.0.0/4",  # multicast (RFC 5771)
        "240.0.0.0/4",  # reserved (RFC 1112), 255.255.255.255 broadcast included
    )
)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
"""Everything outside it is not global unicast: ::/8 (with ::1, ::, IPv4-compatible and
64:ff9b:1::/48), 100::/64, 5f00::/16 (SRv6), fc00::/7, fe80::/10, fec0::/10, ff00::/8, and
the unassigned rest. IPv4-mapped and NAT64 64:ff9b::/96 addresses are judged by the IPv4
address they carry."""
_V6_NOT_GLOBAL = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments (RFC 2928), but for the exceptions below
        "2001:db8::/32",  # documentation (RFC 3849)
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_V6_GLOBAL_EXCEPTIONS = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2001:1::1/128",  # port control protocol anycast (RFC 7723)
        "2001:1::2/128",  # TURN anycast (RFC 8155)
        "2001:1::3/128",  # DNS-SD service registration protocol anycast (RFC 9665)
        "2001:3::/32",  # AMT (RFC 7450)
        "2001:4:112::/48",  # AS112-v6 (RFC 7535)
        "2001:20::/28",  # ORCHIDv2 (RFC 7343)
        "2001:30::/28",  # drone remote ID (RFC 9374)
    )
)
