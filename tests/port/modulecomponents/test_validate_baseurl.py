"""Twin of usecases/modulecomponents/validate_baseurl_test.go, case by case."""

from __future__ import annotations

import pytest

from reranker_nvidia.errors import BaseURLError
from reranker_nvidia.modulecomponents.base_client import DialGuardError, ssrf_dial_guard
from reranker_nvidia.modulecomponents.validate_baseurl import (
    validate_base_url,
    validated_base_url_from_header,
)
from tests.support.dns import FakeResolver

TESTS = [
    ("empty baseURL is allowed", "", False),
    ("http scheme rejected", "http://example.com", True),
    ("no scheme rejected", "example.com", True),
    ("empty host rejected", "https://", True),
    ("loopback IPv4 rejected", "https://127.0.0.1", True),
    ("loopback IPv6 rejected", "https://[::1]", True),
    ("private 10/8 rejected", "https://10.0.0.1", True),
    ("private 192.168 rejected", "https://192.168.1.1:8080", True),
    ("private 172.16 rejected", "https://172.16.0.5", True),
    ("cloud metadata IP rejected", "https://169.254.169.254", True),
    ("unspecified addr rejected", "https://0.0.0.0", True),
    ("localhost rejected", "https://localhost", True),
    (".local suffix rejected", "https://myhost.local", True),
    (".internal suffix rejected", "https://svc.internal", True),
    (".localdomain suffix rejected", "https://box.localdomain", True),
    # A routable public IP literal is allowed (no DNS needed).
    ("public IP literal allowed", "https://8.8.8.8", False),
]


def test_validation_disabled_by_default_is_a_no_op() -> None:
    # Unset → every URL is accepted, preserving backwards compatibility.
    resolver = FakeResolver({})
    for _, base_url, _ in TESTS:
        validate_base_url(base_url, resolver=resolver)
    validate_base_url("http://169.254.169.254", resolver=resolver)
    assert resolver.lookups == []


@pytest.mark.parametrize(("name", "base_url", "want_err"), TESTS, ids=[t[0] for t in TESTS])
def test_validation_enabled(
    monkeypatch: pytest.MonkeyPatch, name: str, base_url: str, want_err: bool
) -> None:
    del name
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
    if want_err:
        with pytest.raises(BaseURLError):
            validate_base_url(base_url, resolver=FakeResolver())
    else:
        validate_base_url(base_url, resolver=FakeResolver())


KEY = "X-Openai-Baseurl"


def _validate(headers: dict[str, list[str]] | None) -> None:
    validated_base_url_from_header(headers, KEY, "", resolver=FakeResolver())


def test_validate_base_url_header_validation_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")

    _validate(None)  # absent
    _validate({KEY: ["https://8.8.8.8"]})
    for internal in (
        "https://169.254.169.254/",
        "https://127.0.0.1/",
        "https://10.0.0.5/",
        "https://localhost/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(BaseURLError):
            _validate({KEY: [internal]})


def test_validate_base_url_header_validation_disabled_is_a_no_op_even_for_internal_headers() -> (
    None
):
    _validate({KEY: ["http://169.254.169.254/"]})


@pytest.mark.parametrize(
    ("name", "address", "want_err"),
    [
        ("loopback blocked", "127.0.0.1:80", True),
        ("private 10/8 blocked", "10.1.2.3:443", True),
        ("private 192.168 blocked", "192.168.0.1:443", True),
        ("cloud metadata blocked", "169.254.169.254:80", True),
        ("unspecified blocked", "0.0.0.0:80", True),
        ("IPv6 loopback blocked", "[::1]:80", True),
        ("public address allowed", "8.8.8.8:443", False),
        ("invalid address rejected", "not-an-address", True),
    ],
)
def test_ssrf_dial_guard(name: str, address: str, want_err: bool) -> None:
    del name
    if want_err:
        with pytest.raises(DialGuardError):
            ssrf_dial_guard("tcp", address)
    else:
        ssrf_dial_guard("tcp", address)
