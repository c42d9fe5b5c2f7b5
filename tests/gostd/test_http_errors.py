"""The ``net``/``net/http`` error texts of a failed request (modulecomponents/_http_errors.py)."""

from __future__ import annotations

import json

import httpx

from reranker_nvidia.modulecomponents import _http_errors as gonet


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
