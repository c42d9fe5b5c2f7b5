"""The ``fast`` extra (orjson) writes the same request bytes and reads the same rankings.

With orjson importable, ``_gostd.json`` writes a request body with ``orjson.dumps`` and the
fast path of ``_response_parse`` reads a 200 with ``orjson.loads``. Both are compared here,
input by input, with the default path (pydantic_core, and ``json.dumps`` for what it does
not take): the same bytes for every request body, and the same outcome (the same scores, or the same
error) for every answer, and the same fast reading where both readers take one, floats at their extremes and malformed bodies included.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pydantic_core
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reranker_nvidia._gostd import json as gojson
from reranker_nvidia.clients import _response_parse
from reranker_nvidia.clients._sending import Answer
from reranker_nvidia.clients.ranker import GO_ROUTE
from reranker_nvidia.errors import RerankerError
from tests.property._support import PROPERTY

orjson = pytest.importorskip("orjson", reason="the fast extra is not installed")

SPECIAL = st.sampled_from(
    ["<", ">", "&", "\u2028", "\u2029", '"', "\\", "\x00", "\x1f", "\x7f", "\x85", "é", "😀", "/"]
)
CONTROLS = st.characters(max_codepoint=0x20)
CHARS = st.one_of(st.characters(), CONTROLS, st.characters(categories=["Cs"]), SPECIAL)
TEXTS = st.text(CHARS, max_size=16)


class _Sub(str):
    """A str subclass whose str() and repr() lie: its characters must be written."""

    def __str__(self) -> str:
        return "lie"

    def __repr__(self) -> str:
        return "lie"


def _request(model: str, query: str, passages: list[str]) -> dict[str, Any]:
    return {"model": model, "query": {"text": query}, "passages": [{"text": p} for p in passages]}


def _default_bytes(value: dict[str, Any]) -> bytes:
    """The bytes the default install writes: pydantic_core, else json.dumps (a surrogate)."""
    try:
        out = pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError:
        return gojson._marshal_any(value)
    for raw, escaped in gojson._GO_ESCAPES_UTF8:
        out = out.replace(raw, escaped)
    return out


def test_the_fast_extra_is_what_runs() -> None:
    assert gojson._to_json is orjson.dumps
    assert gojson.from_json is orjson.loads


@settings(PROPERTY, max_examples=800)
@given(TEXTS, TEXTS, st.lists(TEXTS, max_size=8), st.booleans())
@example("m", "q\u2028", ["\u2029<>&", "\x00\x01\x7f", "\ud800", "é😀"], False)
@example("m", "q", ["a" * 70_000, "\n\r\t\b\f"], True)
def test_request_bytes_are_identical(
    model: str, query: str, passages: list[str], subclass: bool
) -> None:
    if subclass:
        passages = [_Sub(p) for p in passages]
    value = _request(model, query, passages)
    fast = gojson.marshal_strings(value)
    assert fast == _default_bytes(value)
    assert fast == gojson.marshal(value)


FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 0.1]),
)
NUMBER_TEXTS = st.one_of(
    FLOATS.map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        ["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-0", "0.0", "1E5", "1.0e+2", "true"]
    ),
    st.from_regex(r"-?[0-9]{1,25}(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)


def _body(rankings: list[tuple[str, str]], extra: str) -> bytes:
    items = ",".join(f'{{"index":{i},"logit":{x}}}' for i, x in rankings)
    return f'{{"rankings":[{items}]{extra}}}'.encode()


def _outcome(body: bytes, passages: int) -> Any:
    """What a caller sees of the answer: the scores, or the error's type and text."""
    documents = [f"d{i}" for i in range(passages)]
    try:
        scores = GO_ROUTE.document_scores(Answer(200, httpx.Headers(), body), documents)
    except RerankerError as err:
        return (type(err).__name__, str(err))
    return [(s.document, float(s.score or 0).hex()) for s in scores]


def _fast_reading(body: bytes, passages: int) -> Any:
    read = _response_parse.plain_rankings(body, passages, lambda i, x: (i, x))
    return None if read is None else (read.indices, [x.hex() for x in read.logits])


def _alike(body: bytes, passages: int) -> None:
    """The same outcome with either reader; the same fast reading where both take one."""
    fast = (_outcome(body, passages), _fast_reading(body, passages))
    gojson.from_json = pydantic_core.from_json
    try:
        default = (_outcome(body, passages), _fast_reading(body, passages))
    finally:
        gojson.from_json = orjson.loads
    assert fast[0] == default[0]
    if fast[1] is not None and default[1] is not None:
        assert fast[1] == default[1]


@settings(PROPERTY, max_examples=800)
@given(
    st.lists(st.tuples(NUMBER_TEXTS, NUMBER_TEXTS), max_size=6),
    st.sampled_from(["", ',"usage":{"total_tokens":3}', ',"rankings":null', ',"x":"\\ud800"']),
    st.integers(min_value=1, max_value=8),
)
@example([("0", "1e400")], "", 2)
@example([("0", "NaN")], "", 2)
@example([("18446744073709551616", "1.5")], "", 2)
def test_rankings_read_alike(rankings: list[tuple[str, str]], extra: str, passages: int) -> None:
    _alike(_body(rankings, extra), passages)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"null", b"[]", b'{"rankings":{}}', b'{"rankings":[1]}', b"\xff\xfe", b'{"a":1}'],
)
def test_malformed_bodies_read_alike(body: bytes) -> None:
    _alike(body, 4)


def test_a_large_answer_reads_alike() -> None:
    logits = [math.ldexp(1.0, e) * (1 if e % 2 else -1) for e in range(-1000, 1000, 4)]
    body = json.dumps({"rankings": [{"index": i, "logit": x} for i, x in enumerate(logits)]})
    assert _fast_reading(body.encode(), len(logits)) is not None
    _alike(body.encode(), len(logits))
