"""Go's ``net.IP`` classification, as ``isDisallowedIP`` in Weaviate uses it.

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


def is_disallowed_ip(ip: IPAddress) -> bool:
    """Loopback, private, link-local unicast or multicast, or unspecified: Go's test."""
    if isinstance(ip, ipaddress.IPv4Address):
        return (
            ip in _V4_LOOPBACK
            or any(ip in net for net in _V4_PRIVATE)
            or ip in _V4_LINK_LOCAL_UNICAST
            or ip in _V4_LINK_LOCAL_MULTICAST
            or ip == ipaddress.IPv4Address(0)
        )
    packed = ip.packed
    link_local_multicast = packed[0] == 0xFF and (packed[1] & 0x0F) == 0x02
    return (
        ip == ipaddress.IPv6Address(1)
        or ip in _V6_PRIVATE
        or ip in _V6_LINK_LOCAL_UNICAST
        or link_local_multicast
        or ip == ipaddress.IPv6Address(0)
    )
