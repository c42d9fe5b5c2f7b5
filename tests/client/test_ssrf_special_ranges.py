"""D-SSRF-SPECIAL: with validation on, every address that is not global unicast is refused.

Go's ``isDisallowedIP`` covers loopback, RFC 1918 / RFC 4193, link-local and
the unspecified address only; these tests pin the other special-purpose
ranges (IANA's IPv4 and IPv6 special-purpose registries, multicast, reserved
space, site-local) and the NAT64, 6to4 and Teredo addresses that embed an
internal IPv4 address, in every spelling the parser accepts, through the URL
check, through the dial guard and through names that resolve into them.

Nothing here dials: URL checks use a fake resolver, the guard is called
directly, and the transport test runs in a sandbox that refuses any dial off
loopback (and records it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx
import pytest

from reranker_nvidia._gostd.netip import parse_ip
from reranker_nvidia.errors import BaseURLError
from reranker_nvidia.modulecomponents.base_client import (
    DialGuardError,
    join_host_port,
    new_base_http_client,
    ssrf_dial_guard,
)
from reranker_nvidia.modulecomponents.validate_baseurl import (
    is_disallowed_ip,
    is_not_global_unicast,
    validate_base_url,
)
from tests.support.dns import FakeResolver

REFUSED = "baseURL cannot target internal addresses"

# (why, address): every one must be refused with validation on.
SPECIAL = [
    ("CGNAT, a cloud metadata service", "100.100.100.200"),
    ("CGNAT, first", "100.64.0.0"),
    ("CGNAT, last", "100.127.255.255"),
    ("this network", "0.0.0.1"),
    ("this network, last", "0.255.255.255"),
    ("IETF protocol assignments", "192.0.0.8"),
    ("IETF protocol assignments, NAT64 discovery", "192.0.0.170"),
    ("TEST-NET-1", "192.0.2.1"),
    ("benchmarking", "198.18.0.1"),
    ("benchmarking, last", "198.19.255.255"),
    ("TEST-NET-2", "198.51.100.7"),
    ("TEST-NET-3", "203.0.113.9"),
    ("reserved", "240.0.0.1"),
    ("reserved, high", "254.1.2.3"),
    ("limited broadcast", "255.255.255.255"),
    ("multicast v4, not link-local", "224.0.1.1"),
    ("multicast v4, organisation-local", "239.255.255.250"),
    ("multicast v6, global scope", "ff0e::1"),
    ("multicast v6, site scope", "ff05::2"),
    ("multicast v6, interface-local", "ff01::1"),
    ("discard-only", "100::1"),
    ("dummy IPv6 prefix", "100:0:0:1::1"),
    ("site-local (deprecated)", "fec0::1"),
    ("site-local, last", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ("IPv4-compatible loopback", "::127.0.0.1"),
    ("reserved ::/8", "::2"),
    ("local-use NAT64", "64:ff9b:1::a00:1"),
    ("SRv6 SIDs", "5f00::1"),
    ("unassigned outside 2000::/3", "4000::1"),
    ("documentation v6", "2001:db8::1"),
    ("documentation v6, 3fff::/20", "3fff::1"),
    ("benchmarking v6", "2001:2::1"),
    ("ORCHID (deprecated)", "2001:10::1"),
    ("IETF protocol assignments v6", "2001:100::1"),
    ("NAT64 of loopback", "64:ff9b::127.0.0.1"),
    ("NAT64 of 10/8", "64:ff9b::a00:1"),
    ("NAT64 of the metadata address", "64:ff9b::a9fe:a9fe"),
    ("NAT64 of CGNAT", "64:ff9b::6464:64c8"),
    ("6to4 of loopback", "2002:7f00:1::1"),
    ("6to4 of 192.168/16", "2002:c0a8:101::"),
    ("6to4 of CGNAT", "2002:6464:64c8::1"),
    ("Teredo, client loopback", "2001:0:4136:e378:8000:63bf:80ff:fffe"),
    ("Teredo, client 10.0.0.1", "2001:0:4136:e378:8000:63bf:f5ff:fffe"),
    ("Teredo, server loopback", "2001:0:7f00:1:8000:63bf:f7f7:f7f7"),
    ("IPv4-mapped CGNAT", "::ffff:100.100.100.200"),
    ("IPv4-mapped CGNAT, hex", "::ffff:6464:64c8"),
    ("IPv4-mapped broadcast", "::ffff:255.255.255.255"),
]

# (why, address): global unicast, so accepted as before.
GLOBAL = [
    ("public v4", "8.8.8.8"),
    ("just below CGNAT", "100.63.255.255"),
    ("just above CGNAT", "100.128.0.0"),
    ("just above 192.0.0.0/24", "192.0.1.1"),
    ("just below benchmarking", "198.17.255.255"),
    ("just above benchmarking", "198.20.0.0"),
    ("just below reserved", "223.255.255.255"),
    ("public v6", "2001:4860:4860::8888"),
    ("NAT64 of a public address", "64:ff9b::808:808"),
    ("6to4 of a public address", "2002:808:808::1"),
    ("Teredo of public server and client", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"),
    ("PCP anycast v6", "2001:1::1"),
    ("AMT v6", "2001:3::1"),
    ("ORCHIDv2", "2001:20::1"),
    ("AS112 v6", "2620:4f:8000::1"),
    ("IPv4-mapped public", "::ffff:8.8.8.8"),
]


def spellings(address: str) -> list[str]:
    """``address`` in every host spelling the parser accepts (no brackets)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        hi, lo = int(ip) >> 16, int(ip) & 0xFFFF
        return [
            str(ip),
            f"::ffff:{ip}",
            f"::FFFF:{ip}",
            f"::ffff:{hi:x}:{lo:x}",
            f"0:0:0:0:0:ffff:{ip}",
            f"::ffff:{ip}%eth0",
        ]
    forms = [address, ip.compressed, ip.exploded, ip.compressed.upper(), f"{ip.compressed}%eth0"]
    return list(dict.fromkeys(forms))


def url_for(host: str) -> str:
    if ":" in host:
        host = "[" + host.replace("%", "%25") + "]"
    return f"https://{host}:1/v1"


def cases(table: list[tuple[str, str]]) -> list[Any]:
    return [
        pytest.param(host, id=f"{why}: {host}")
        for why, address in table
        for host in spellings(address)
    ]


@pytest.fixture
def validation_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")


@pytest.mark.usefixtures("validation_on")
@pytest.mark.parametrize("host", cases(SPECIAL))
def test_a_special_literal_base_url_is_refused(host: str) -> None:
    resolver = FakeResolver({})
    with pytest.raises(BaseURLError) as caught:
        validate_base_url(url_for(host), resolver=resolver)
    assert str(caught.value) == REFUSED
    assert resolver.lookups == []


@pytest.mark.parametrize("host", cases(SPECIAL))
def test_the_dial_guard_refuses_a_special_address(host: str) -> None:
    address = join_host_port(host, 443)
    with pytest.raises(DialGuardError) as caught:
        ssrf_dial_guard("tcp", address)
    assert str(caught.value) == f'refusing to dial internal address "{address}"'


@pytest.mark.usefixtures("validation_on")
@pytest.mark.parametrize("host", cases(GLOBAL))
def test_a_global_unicast_address_still_passes_both_checks(host: str) -> None:
    validate_base_url(url_for(host), resolver=FakeResolver({}))
    ssrf_dial_guard("tcp", join_host_port(host, 443))


@pytest.mark.usefixtures("validation_on")
@pytest.mark.parametrize(("why", "address"), SPECIAL, ids=[why for why, _ in SPECIAL])
def test_a_name_resolving_into_a_special_range_is_refused(why: str, address: str) -> None:
    del why
    resolver = FakeResolver({"nim.example": ["93.184.215.14", address]})
    with pytest.raises(BaseURLError) as caught:
        validate_base_url("https://nim.example", resolver=resolver)
    assert str(caught.value) == REFUSED
    assert resolver.lookups == ["nim.example"]


def test_the_go_twin_is_unchanged_and_ours_sits_beside_it() -> None:
    # Go's isDisallowedIP still says what Go says: each special address is a gap in it.
    for _, address in SPECIAL:
        ip = parse_ip(address)
        assert ip is not None
        assert is_not_global_unicast(ip), address
        assert not is_disallowed_ip(ip), address
    for _, address in GLOBAL:
        ip = parse_ip(address)
        assert ip is not None
        assert not is_not_global_unicast(ip), address
        assert not is_disallowed_ip(ip), address


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse (and record) any dial off loopback, so a failing check sends nothing."""
    attempts: list[str] = []
    real = httpcore.SyncBackend.connect_tcp

    def connect_tcp(self: httpcore.SyncBackend, host: str, port: int, *args: object) -> object:
        if not ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback:
            attempts.append(join_host_port(host, port))
            raise httpcore.ConnectError("sandbox: dial off loopback refused")
        return real(self, host, port, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    yield attempts


@pytest.mark.usefixtures("validation_on")
@pytest.mark.parametrize(
    "address", ["100.100.100.200", "192.0.2.1", "64:ff9b::7f00:1", "fec0::1", "ff0e::1"]
)
def test_the_transport_refuses_a_name_resolving_into_a_special_range(
    sandbox: list[str], address: str
) -> None:
    resolver = FakeResolver({"nim.example": [address]})
    with (
        new_base_http_client(30, resolver=resolver) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.post("http://nim.example:8080/", content=b"{}")
    dialled = join_host_port(address, 8080)
    assert str(caught.value) == (
        f'dial tcp {dialled}: refusing to dial internal address "{dialled}"'
    )
    assert sandbox == []
