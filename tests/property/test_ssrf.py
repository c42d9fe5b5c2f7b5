"""Property 8: with MODULES_VALIDATE_BASE_URL on, no internal address gets through.

Addresses are drawn from Go's ranges (loopback, private, link-local unicast
and multicast, unspecified), from the other ranges that are not global
unicast (D-SSRF-SPECIAL: IANA's special-purpose blocks, multicast, reserved,
site-local, and NAT64, 6to4 or Teredo addresses carrying an internal IPv4
address), and written in every form a URL or a dial address may take: plain,
with a port, IPv4-mapped IPv6 (dotted or hex), expanded, upper-case, with an
IPv6 zone.
"""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import Client
from reranker_nvidia.errors import BaseURLError
from reranker_nvidia.modulecomponents.base_client import (
    DialGuardError,
    join_host_port,
    ssrf_dial_guard,
)
from reranker_nvidia.modulecomponents.validate_baseurl import validate_base_url
from tests.property._support import (
    PROPERTY,
    RERANKING_PATH,
    Recorder,
    environment,
    json_response,
)
from tests.support.dns import FakeResolver

INTERNAL_NETWORKS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "224.0.0.0/24",
    "0.0.0.0/32",
    "::1/128",
    "::/128",
    "fc00::/7",
    "fe80::/10",
    "ff02::/16",
]
# D-SSRF-SPECIAL: not global unicast either, though Go's isDisallowedIP lets them through.
SPECIAL_NETWORKS = [
    "0.0.0.0/8",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "4000::/2",
    "2001:2::/48",
    "2001:db8::/32",
    "3fff::/20",
    "fec0::/10",
    "ff00::/8",
]
PUBLIC_NETWORKS = ["8.0.0.0/8", "2001:4860::/32"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
internal_v4 = st.one_of(
    *(st.ip_addresses(network=n) for n in INTERNAL_NETWORKS + SPECIAL_NETWORKS if "." in n)
).map(lambda ip: ipaddress.IPv4Address(int(ip)))
public_v4 = st.ip_addresses(network="8.0.0.0/8").map(lambda ip: ipaddress.IPv4Address(int(ip)))


def embedding(v4: st.SearchStrategy[ipaddress.IPv4Address]) -> st.SearchStrategy[IPAddress]:
    """NAT64, 6to4 and Teredo (as client or server) addresses carrying an address of ``v4``."""

    def nat64(ip: ipaddress.IPv4Address) -> IPAddress:
        return ipaddress.IPv6Address((0x64FF9B << 96) | int(ip))

    def six_to_four(ip: ipaddress.IPv4Address, low: int) -> IPAddress:
        return ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80) | low)

    def teredo(server: ipaddress.IPv4Address, client: ipaddress.IPv4Address) -> IPAddress:
        flags_port = 0x8000_63BF
        return ipaddress.IPv6Address(
            (0x2001_0000 << 96)
            | (int(server) << 64)
            | (flags_port << 32)
            | (~int(client) & 0xFFFFFFFF)
        )

    lows = st.integers(min_value=0, max_value=(1 << 80) - 1)
    return st.one_of(
        v4.map(nat64),
        st.builds(six_to_four, v4, lows),
        st.builds(teredo, public_v4, v4),
        st.builds(teredo, v4, public_v4),
    )


internal_ips = st.one_of(
    *(st.ip_addresses(network=n) for n in INTERNAL_NETWORKS + SPECIAL_NETWORKS),
    embedding(internal_v4),
)
public_ips = st.one_of(
    *(st.ip_addresses(network=n) for n in PUBLIC_NETWORKS),
    embedding(public_v4),
)
ports = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))
REFUSED = "baseURL cannot target internal addresses"


@st.composite
def host_texts(draw: st.DrawFn, ip: IPAddress) -> str:
    """``ip`` as a host (no brackets), in one of the spellings Go's parser accepts."""
    if isinstance(ip, ipaddress.IPv4Address):
        hi, lo = int(ip) >> 16, int(ip) & 0xFFFF
        return draw(
            st.sampled_from(
                [str(ip), f"::ffff:{ip}", f"::FFFF:{ip}", f"::ffff:{hi:x}:{lo:x}",
                 f"0:0:0:0:0:ffff:{ip}"]
            )
        )  # fmt: skip
    forms = [ip.compressed, ip.exploded, ip.compressed.upper()]
    if ip in ipaddress.ip_network("fe80::/10") or ip in ipaddress.ip_network("ff02::/16"):
        forms.append(f"{ip.compressed}%eth0")  # a zone: still the same address
    return draw(st.sampled_from(forms))


def url_for(host: str, port: int | None, path: str) -> str:
    if ":" in host:
        host = "[" + host.replace("%", "%25") + "]"
    return f"https://{host}" + (f":{port}" if port is not None else "") + path


PATHS = st.sampled_from(["", "/", "/v1", "/a/b/"])


# 600 examples: 30 networks and 3 embeddings × up to 5 spellings × with or without a port/path;
# pure validation (no DNS: the resolver must not even be asked) is microseconds.
@settings(PROPERTY, max_examples=600)
@given(st.data(), internal_ips, ports, PATHS)
def test_internal_literals_are_refused(
    data: st.DataObject, ip: IPAddress, port: int | None, path: str
) -> None:
    url = url_for(data.draw(host_texts(ip)), port, path)
    resolver = FakeResolver({})
    with environment(MODULES_VALIDATE_BASE_URL="true"), pytest.raises(BaseURLError) as caught:
        validate_base_url(url, resolver=resolver)
    assert str(caught.value) == REFUSED, url
    assert resolver.lookups == []


# 300 examples: a host name whose addresses include an internal one is refused,
# wherever in the answer that address sits (DNS answers mixing public and private).
@settings(PROPERTY, max_examples=300)
@given(st.lists(public_ips, max_size=3), internal_ips, st.integers(min_value=0, max_value=3))
def test_names_resolving_to_an_internal_address_are_refused(
    public: list[IPAddress], internal: IPAddress, position: int
) -> None:
    addresses = [str(ip) for ip in public]
    addresses.insert(min(position, len(addresses)), str(internal))
    with environment(MODULES_VALIDATE_BASE_URL="true"), pytest.raises(BaseURLError) as caught:
        validate_base_url(
            "https://rebind.example", resolver=FakeResolver({"rebind.example": addresses})
        )
    assert str(caught.value) == REFUSED


# 600 examples, like the URL test: the connect-time guard refuses the same
# addresses in every spelling, as Go's dialer hands them over (host:port).
@settings(PROPERTY, max_examples=600)
@given(st.data(), internal_ips, st.integers(min_value=0, max_value=65535))
def test_the_dial_guard_refuses_internal_addresses(
    data: st.DataObject, ip: IPAddress, port: int
) -> None:
    address = join_host_port(data.draw(host_texts(ip)), port)
    with pytest.raises(DialGuardError) as caught:
        ssrf_dial_guard("tcp", address)
    assert str(caught.value) == f'refusing to dial internal address "{address}"'


# 400 examples from 8.0.0.0/8 and 2001:4860::/32, and NAT64, 6to4 and Teredo addresses
# carrying an address of 8.0.0.0/8, in every spelling: both checks accept them (a check
# that refused everything would pass the tests above).
@settings(PROPERTY, max_examples=400)
@given(st.data(), public_ips, ports, PATHS)
def test_public_addresses_are_accepted_by_both_checks(
    data: st.DataObject, ip: IPAddress, port: int | None, path: str
) -> None:
    host = data.draw(host_texts(ip))
    resolver = FakeResolver({"public.example": [str(ip)]})
    with environment(MODULES_VALIDATE_BASE_URL="true"):
        validate_base_url(url_for(host, port, path), resolver=resolver)
        validate_base_url("https://public.example", resolver=resolver)
    ssrf_dial_guard("tcp", join_host_port(host, port or 443))
    assert resolver.lookups == ["public.example"]


# 150 examples through the client: an internal X-Nvidia-Baseurl is refused before
# anything is sent; a public one is used (the fake server sees the request).
@settings(PROPERTY, max_examples=150)
@given(
    st.data(),
    st.one_of(internal_ips.map(lambda ip: (ip, True)), public_ips.map(lambda ip: (ip, False))),
    ports,
)
def test_the_client_refuses_internal_base_url_headers(
    data: st.DataObject, drawn: tuple[IPAddress, bool], port: int | None
) -> None:
    ip, internal = drawn
    url = url_for(data.draw(host_texts(ip)), port, "")
    server = Recorder(lambda body: json_response(200, {"rankings": [{"index": 0, "logit": 1.0}]}))
    with (
        environment(MODULES_VALIDATE_BASE_URL="true"),
        Client("k", transport=server.transport(), resolver=FakeResolver({})) as client,
    ):
        if internal:
            with pytest.raises(BaseURLError, match=f"^{REFUSED}$"):
                client.rank("q", ["a"], headers={"X-Nvidia-Baseurl": url})
            assert server.requests == []
        else:
            client.rank("q", ["a"], headers={"X-Nvidia-Baseurl": url})
            (request,) = server.requests
            assert request.url == httpx.URL(url + RERANKING_PATH)
