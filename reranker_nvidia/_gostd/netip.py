"""Go's ``net.IP`` parsing and classification methods, which Weaviate's ``isDisallowedIP`` uses.

Ported behaviour of Go's standard library (``net/ip.go``). Python's
``ipaddress`` flags differ from Go's (``is_private`` also covers documentation
and benchmark ranges; an IPv4-mapped IPv6 address is not classified as IPv4
before Python 3.13), so the ranges are spelled out here as Go defines them.
"""

from __future__ import annotations

import ipaddress

_V4_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_V4_PRIVATE = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
)
_V4_LINK_LOCAL_UNICAST = ipaddress.ip_network("169.254.0.0/16")
_V4_LINK_LOCAL_MULTICAST = ipaddress.ip_network("224.0.0.0/24")
_V6_PRIVATE = ipaddress.ip_network("fc00::/7")
_V6_LINK_LOCAL_UNICAST = ipaddress.ip_network("fe80::/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IPAddress | None:
    """Parse an IP literal; ``None`` when ``text`` is not one.

    Unlike Go's ``net.ParseIP`` an IPv6 zone (``fe80::1%eth0``) is accepted and
    ignored, so a zoned link-local literal is still classified (see
    docs/divergences.md, D-SSRF-ZONE).
    """
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            ip = ipaddress.IPv6Address(text.split("%", 1)[0])
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return mapped
    return ip


def is_loopback(ip: IPAddress) -> bool:
    """Go's ``IP.IsLoopback``: 127.0.0.0/8 or ::1."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in _V4_LOOPBACK
    return ip == ipaddress.IPv6Address(1)


def is_private(ip: IPAddress) -> bool:
    """Go's ``IP.IsPrivate``: RFC 1918 for IPv4, RFC 4193 (fc00::/7) for IPv6."""
    if isinstance(ip, ipaddress.IPv4Address):
        return any(ip in net for net in _V4_PRIVATE)
    return ip in _V6_PRIVATE


def is_link_local_unicast(ip: IPAddress) -> bool:
    """Go's ``IP.IsLinkLocalUnicast``: 169.254.0.0/16 or fe80::/10."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in _V4_LINK_LOCAL_UNICAST
    return ip in _V6_LINK_LOCAL_UNICAST


def is_link_local_multicast(ip: IPAddress) -> bool:
    """Go's ``IP.IsLinkLocalMulticast``: 224.0.0.0/24, or ff02::/16 in any flags."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in _V4_LINK_LOCAL_MULTICAST
    packed = ip.packed
    return packed[0] == 0xFF and (packed[1] & 0x0F) == 0x02


def is_unspecified(ip: IPAddress) -> bool:
    """Go's ``IP.IsUnspecified``: 0.0.0.0 or ::."""
    return int(ip) == 0


# Not Go's: where the address an IPv6 transition prefix carries is (D-SSRF-SPECIAL).
_V6_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V6_6TO4 = ipaddress.ip_network("2002::/16")
_V6_TEREDO = ipaddress.ip_network("2001::/32")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses a NAT64 (RFC 6052), 6to4 (RFC 3056) or Teredo (RFC 4380) address
    carries, in that order for Teredo: server, then client; ``()`` for any other address."""
    if ip in _V6_NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _V6_6TO4:
        return (ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF),)
    if ip in _V6_TEREDO:
        server = ipaddress.IPv4Address((int(ip) >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~int(ip) & 0xFFFFFFFF)
        return server, client
    return ()
