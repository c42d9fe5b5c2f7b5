"""Go standard-library behaviour the port reproduces (reranker_nvidia/_gostd)."""

from __future__ import annotations

import json

import httpx
import pytest

from reranker_nvidia._gostd import json as gojson
from reranker_nvidia._gostd import url as gourl
from reranker_nvidia._gostd.netip import parse_ip
from reranker_nvidia._gostd.time import DurationError, parse_duration
from reranker_nvidia.modulecomponents import _http_errors as gonet
from reranker_nvidia.modulecomponents.validate_baseurl import is_disallowed_ip


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("-0", 0.0),
        ("+0", 0.0),
        ("50s", 50.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("-2m", -120.0),
        ("1h2m3s4ms5us6ns", 3723.004005006),
        ("1µs", 1e-6),
        ("1μs", 1e-6),
        ("3ns", 3e-9),
        ("9223372036s", 9223372036.0),
    ],
)
def test_parse_duration_accepts_what_go_accepts(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        ("s", 'time: invalid duration "s"'),
        (".", 'time: invalid duration "."'),
        (".s", 'time: invalid duration ".s"'),
        ("5", 'time: missing unit in duration "5"'),
        ("50", 'time: missing unit in duration "50"'),
        ("3x", 'time: unknown unit "x" in duration "3x"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("1 s", 'time: unknown unit " s" in duration "1 s"'),
        ("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"'),
        ('1"', 'time: unknown unit "\\"" in duration "1\\""'),
        ("9999999999h", 'time: invalid duration "9999999999h"'),
    ],
)
def test_parse_duration_rejects_with_gos_text(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": "<b>&"}, b'{"a":"\\u003cb\\u003e\\u0026"}'),
        ({"a": "line\u2028sep\u2029"}, b'{"a":"line\\u2028sep\\u2029"}'),
        ({"a": "caf\u00e9 \U0001f600"}, '{"a":"caf\u00e9 \U0001f600"}'.encode()),
        ({"a": '\n\t"\\\x01\x7f'}, b'{"a":"\\n\\t\\"\\\\\\u0001\x7f"}'),
        ({"a": "lone \ud800 surrogate"}, '{"a":"lone \ufffd surrogate"}'.encode()),
        ([1, 2.5, None, True], b"[1,2.5,null,true]"),
    ],
)
def test_marshal_writes_gos_bytes(value: object, expected: bytes) -> None:
    assert gojson.marshal(value) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected end of JSON input"),
        ("  \n", "unexpected end of JSON input"),
        ("<html>", "invalid character '<' looking for beginning of value"),
        ("Header of type", "invalid character 'H' looking for beginning of value"),
        ("'x'", "invalid character '\\'' looking for beginning of value"),
        ('"', "unexpected end of JSON input"),
        ("\x00", "invalid character '\\u0000' looking for beginning of value"),
        ('{"a": 1', "unexpected end of JSON input"),
        ('{"a": 1} x', "Extra data (at offset 9)"),
        ('{"a" 1}', "Expecting ':' delimiter (at offset 5)"),
        ('{"a": 1}', "invalid JSON"),
    ],
)
def test_syntax_error_words_common_faults_as_go(text: str, message: str) -> None:
    assert gojson.syntax_error(text) == message


def test_loads_rejects_nan_and_infinity_as_go_does() -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="invalid character"):
            gojson.loads(f'{{"x": {literal}}}')
    assert gojson.loads('{"x": 1}') == {"x": 1}


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


def test_describe_words_transport_failures_as_go() -> None:
    url = "https://api.example/v1"
    assert gonet.describe(httpx.ReadTimeout("timed out"), url) == "context deadline exceeded"
    assert gonet.host_port(url) == "api.example:443"
    assert gonet.host_port("http://[::1]/x") == "[::1]:80"
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    assert gonet.describe(refused, url) == "dial tcp api.example:443: connect: connection refused"
    unreachable = httpx.ConnectError("[Errno 101] Network is unreachable")
    unreachable.__context__ = OSError(101, "Network is unreachable")
    assert (
        gonet.describe(unreachable, url)
        == "dial tcp api.example:443: connect: network is unreachable"
    )
    lookup = httpx.ConnectError("[Errno -2] Name or service not known")
    import socket

    lookup.__context__ = socket.gaierror(-2, "Name or service not known")
    assert gonet.describe(lookup, url) == "dial tcp: lookup api.example: no such host"
    assert gonet.describe(httpx.ConnectError("boom"), url) == "dial tcp api.example:443: boom"
    reset = httpx.ReadError("reset")
    reset.__cause__ = ConnectionResetError(104, "reset")
    assert gonet.describe(reset, url) == "read: connection reset by peer"
    pipe = httpx.WriteError("pipe")
    pipe.__cause__ = BrokenPipeError(32, "pipe")
    assert gonet.describe(pipe, url) == "write: broken pipe"
    assert gonet.describe(
        httpx.RemoteProtocolError("peer unexpectedly closed connection"), url
    ) == ("unexpected EOF")
    assert (
        gonet.describe(httpx.LocalProtocolError("Illegal header value"), url)
        == "Illegal header value"
    )
    assert gonet.describe(httpx.DecodingError(""), url) == "DecodingError"
    assert json.dumps(gonet.describe(httpx.RemoteProtocolError("weird"), url)) == '"weird"'
