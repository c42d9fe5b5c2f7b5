"""The API key never shows in an error: every copy masked, whole words only, nothing kept in the
chain; and a key that cannot be a header value is refused before anything is sent, unseen.

(The property tests in tests/property/test_secrets.py try many keys and bodies; these pin the
sharp edges that fault and input attacks found.)
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from reranker_nvidia import Client
from reranker_nvidia.errors import (
    InvalidAPIKeyError,
    RerankerError,
    ResponseParseError,
    UpstreamError,
)


def lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda hexes: hexes.group().lower(), text)


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def answering(status: int, body: bytes | Any, headers: dict[str, str] | None = None) -> Client:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Client(
        "the-key",
        transport=mock(lambda _: httpx.Response(status, content=content, headers=headers or {})),
    )


def failure(client: Client, documents: Any = ("a", "b", "c"), key: str | None = None) -> Exception:
    headers = None if key is None else {"X-Nvidia-Api-Key": key}
    with client, pytest.raises(Exception) as caught:
        client.rank("q", documents, headers=headers)
    return caught.value


# --------------------------------------------------------------------------
# Redaction: never inside a word, every copy
# --------------------------------------------------------------------------


def test_a_short_key_is_not_masked_inside_words() -> None:
    error = failure(answering(403, {"detail": "Unknown model"}), key="k")
    assert str(error) == "connection to NVIDIA API failed with status: 403 error: Unknown model"
    error = failure(answering(403, {"detail": "a bad request"}), key="a")
    assert str(error) == (
        "connection to NVIDIA API failed with status: 403 error: [redacted] bad request"
    )


@pytest.mark.parametrize(
    ("detail", "shown"),
    [
        ("Unknown model my-test-model", "Unknown model my-test-model"),
        ("no route /v1/test/reranking", "no route /v1/test/reranking"),
        ("model nvidia.test.v2 is not served", "model nvidia.test.v2 is not served"),
        ("Unknown model for key test", "Unknown model for key [redacted]"),
        ("invalid key test.", "invalid key [redacted]."),
        ('invalid key "test", retry', 'invalid key "[redacted]", retry'),
        ("api_key=test; scope: test", "api_key=[redacted]; scope: [redacted]"),
        ("see http://x/?key=test&y=1", "see http://x/?key=[redacted]&y=1"),
    ],
)
def test_a_short_key_is_masked_only_where_it_stands_as_a_whole_token(
    detail: str, shown: str
) -> None:
    """Before, the key ``test`` turned ``my-test-model`` into ``my-[redacted]-model``."""
    error = failure(answering(403, {"detail": detail}), key="test")
    assert str(error) == f"connection to NVIDIA API failed with status: 403 error: {shown}"


KEY = "nvapi-Secret/Key+0123=="


@pytest.mark.parametrize(
    "echo",
    [KEY, quote(KEY, safe=""), quote_plus(KEY), quote(KEY), lower_hex(quote(KEY, safe=""))],
    ids=["raw", "url-encoded", "form-encoded", "path-encoded", "lower-hex"],
)
def test_every_copy_of_an_echoed_key_is_masked(echo: str) -> None:
    body = json.dumps({"detail": f"invalid key {echo}"}).encode()
    headers = {"Location": f"http://x/?key={echo}", "X-Echo": echo}
    for status in (403, 401, 302):
        error = failure(answering(status, body, headers), key=KEY)
        assert isinstance(error, UpstreamError)
        assert_key_nowhere(error, KEY)


def test_a_key_glued_to_a_word_is_masked_with_the_word() -> None:
    error = failure(answering(403, {"detail": f"tokens:abc{KEY} end"}), key=KEY)
    assert str(error).endswith("error: tokens:[redacted] end")


def test_a_200_body_echoing_the_key_is_not_kept_in_the_chain() -> None:
    error = failure(answering(200, f'{{"rankings": "{KEY}"}}'.encode()), key=KEY)
    assert isinstance(error, ResponseParseError)
    assert_key_nowhere(error, KEY)


def test_a_transport_error_chain_does_not_hold_the_request_headers() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    error = failure(Client("k", transport=mock(refuse)), key=KEY)
    assert isinstance(error, RerankerError)
    assert_key_nowhere(error, KEY)


# --------------------------------------------------------------------------
# A key that is not a valid header value is refused before any request
# --------------------------------------------------------------------------


BAD_KEYS = [
    ("nvapi-abcdef0123\n", "it ends with a line break"),
    ("nvapi-abcdef0123 ", "it ends with whitespace"),
    (" nvapi-abcdef0123", "it starts with whitespace"),
    ("nvapi-abc\r\ndef0123", "it holds a line break"),
    ("nvapi-abc\x00def0123", "it holds a NUL character"),
    ("nvapi-abc\x1bdef0123", "it holds a control character"),
    ("nvapi-abcdéf0123", "it holds a character that is not ASCII"),
]


@pytest.mark.parametrize(
    ("key", "why", "source"),
    [
        pytest.param(key, why, source, id=f"{source}-{why.replace(' ', '-')}")
        for key, why in BAD_KEYS
        for source in ("header", "environment", "argument")
        # An environment variable cannot hold NUL, so that key can only come the other ways.
        if not (source == "environment" and "\x00" in key)
    ],
)
def test_a_key_that_is_no_header_value_is_refused_unseen(
    key: str, why: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"rankings": [{"index": 0, "logit": 1.0}]})

    if source == "environment":
        monkeypatch.setenv("NVIDIA_APIKEY", key)
        client, headers = Client(transport=mock(record)), None
    elif source == "argument":
        client, headers = Client(key, transport=mock(record)), None
    else:
        client, headers = Client(transport=mock(record)), {"X-Nvidia-Api-Key": key}
    with client, pytest.raises(InvalidAPIKeyError) as caught:
        client.rank("q", ["a"], headers=headers)
    where = {
        "header": "X-Nvidia-Api-Key header",
        "environment": "NVIDIA_APIKEY",
        "argument": "the api_key argument",
    }[source]
    assert str(caught.value) == (
        f"Nvidia API Key: the key from {where} cannot be sent as a header value: {why}"
    )
    assert sent == []
    assert_key_nowhere(caught.value, key.strip())


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def assert_key_nowhere(error: BaseException, key: str) -> None:
    """No text, byte string or header anywhere in ``error`` or its chain spells ``key``."""
    spellings = {key, quote(key, safe=""), quote_plus(key), quote(key)}
    spellings |= {lower_hex(quote(key, safe="")), lower_hex(quote_plus(key))}
    spellings |= {json.dumps(key)[1:-1], repr(key)[1:-1]}
    for text in texts_of(error):
        for spelling in spellings:
            assert spelling not in text, (spelling, text[:300])


def texts_of(root: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        value = stack.pop()
        if id(value) in seen or value is None:
            continue
        seen.add(id(value))
        if isinstance(value, str):
            yield value
        elif isinstance(value, bytes | bytearray):
            yield bytes(value).decode("latin-1")
        elif isinstance(value, int | float | bool):
            continue
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend(value)
        elif isinstance(value, httpx.Headers):
            stack.extend(v for _, v in value.raw)
        elif isinstance(value, httpx.Request):
            stack.extend([str(value.url), value.headers])
        elif isinstance(value, BaseException):
            yield str(value)
            yield repr(value)
            stack.extend([value.args, value.__cause__, value.__context__])
            stack.extend(getattr(value, "__dict__", {}).values())
            if isinstance(value, httpx.RequestError):
                with contextlib.suppress(RuntimeError):  # no request attached
                    stack.append(value.request)
            for name in ("object", "input", "body", "detail", "location"):
                stack.append(getattr(value, name, None))
            if hasattr(value, "errors") and callable(value.errors):
                with contextlib.suppress(Exception):  # not pydantic's errors()
                    stack.append(value.errors())
        else:
            yield repr(value)
