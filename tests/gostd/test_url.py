"""Go's ``net/url``, as the port reproduces it (reranker_nvidia/_gostd/url.py)."""

from __future__ import annotations

import pytest

from reranker_nvidia._gostd import url as gourl


@pytest.mark.parametrize(
    ("raw", "scheme", "host", "hostname", "port"),
    [
        ("https://example.com", "https", "example.com", "example.com", ""),
        ("HTTPS://Example.com:8443/x?y#z", "https", "Example.com:8443", "Example.com", "8443"),
        ("https://u:p@h/x", "https", "h", "h", ""),
        ("https://[::1]:80/", "https", "[::1]:80", "::1", "80"),
        ("https://[fe80::1%25eth0]/", "https", "[fe80::1%eth0]", "fe80::1%eth0", ""),
        ("https://caf%C3%A9.example", "https", "café.example", "café.example", ""),
        ("example.com", "", "", "", ""),
        (" https://x", "", "", "", ""),
        ("1http://x", "", "", "", ""),
        ("https:///path", "https", "", "", ""),
        ("https://h:", "https", "h:", "h", ""),
    ],
)
def test_url_parse_splits_like_go(
    raw: str, scheme: str, host: str, hostname: str, port: str
) -> None:
    parsed = gourl.parse(raw)
    assert (parsed.scheme, parsed.host, parsed.hostname(), parsed.port()) == (
        scheme,
        host,
        hostname,
        port,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("https://exa mple.com", 'invalid character " " in host name'),
        ("https://a{b}.com", 'invalid character "{" in host name'),
        ("https://[::1", "missing ']' in host"),
        ("https://[::1]x", 'invalid port "x" after host'),
        ("https://h:abc", 'invalid port ":abc" after host'),
        (":foo", "missing protocol scheme"),
        ("https://h\n", "net/url: invalid control character in URL"),
        ("https://a%zz", 'invalid URL escape "%zz"'),
        ("https://a%41", 'invalid URL escape "%41"'),
        ("https://a%4", 'invalid URL escape "%4"'),
    ],
)
def test_url_parse_refuses_like_go(raw: str, reason: str) -> None:
    with pytest.raises(gourl.URLError) as caught:
        gourl.parse(raw)
    assert caught.value.reason == reason
    assert str(caught.value) == f"parse {gourl.go_quote(raw)}: {reason}"


def test_strip_password_masks_only_a_password() -> None:
    assert gourl.strip_password("https://u:p@h/x") == "https://u:***@h/x"
    assert gourl.strip_password("https://u@h/x") == "https://u@h/x"
    assert gourl.strip_password("https://h/x") == "https://h/x"
    assert gourl.strip_password("https://[::1") == "https://[::1"


def test_go_quote_escapes_like_strconv_quote() -> None:
    assert gourl.go_quote('a"b\\c\n\t\r\x01') == '"a\\"b\\\\c\\n\\t\\r\\x01"'
