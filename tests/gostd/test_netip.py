"""Go's ``net.ParseIP`` and ``net.IP`` classes, as the port reproduces them (_gostd/netip.py)."""

from __future__ import annotations

import pytest

from reranker_nvidia._gostd.netip import parse_ip
from reranker_nvidia.modulecomponents.validate_baseurl import is_disallowed_ip


@pytest.mark.parametrize(
    ("text", "disallowed"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("10.0.0.1", True),
        ("172.16.0.1", True),
        ("172.31.255.255", True),
        ("172.32.0.1", False),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("224.0.0.251", True),
        ("224.0.1.1", False),
        ("0.0.0.0", True),
        ("100.64.0.1", False),  # CGNAT: not private for Go
        ("192.0.2.1", False),  # documentation range: not private for Go
        ("8.8.8.8", False),
        ("::1", True),
        ("::", True),
        ("fc00::1", True),
        ("fd12:3456::1", True),
        ("fe80::1", True),
        ("fe80::1%eth0", True),
        ("ff02::1", True),
        ("ff12::1", True),
        ("ff05::1", False),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.1.1.1", True),
        ("::ffff:8.8.8.8", False),
        ("2001:4860:4860::8888", False),
    ],
)
def test_ip_classes_follow_go(text: str, disallowed: bool) -> None:
    ip = parse_ip(text)
    assert ip is not None
    assert is_disallowed_ip(ip) is disallowed


@pytest.mark.parametrize("text", ["localhost", "010.0.0.1", "1.2.3", "", "example.com"])
def test_parse_ip_refuses_what_is_not_an_ip_literal(text: str) -> None:
    assert parse_ip(text) is None
