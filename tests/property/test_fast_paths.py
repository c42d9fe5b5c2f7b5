"""The fast paths of the hot loop give exactly the outcome of the slow ones they skip.

``marshal`` writes a request-shaped value with ``pydantic_core.to_json``; any
other value takes ``json.dumps``. A list around a value sends it the slow way,
so ``marshal([v])`` is the slow path's bytes of ``v`` in brackets.

A 200 body the fast check of ``_ranker_fast`` vouches for is read into plain
lists; any other is validated by the model. The reference here is the slow
path on its own: ``parse_rank_response`` without ``passages`` never takes the
fast one, and a plain ``list`` of rankings takes ``to_document_scores``'s
general loop.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reranker_nvidia._gostd.json import marshal
from reranker_nvidia.clients._response_parse import PlainRankings, refuse_more_rankings_than
from reranker_nvidia.clients._sending import Answer
from reranker_nvidia.clients.ranker import GO_ROUTE, parse_rank_response, to_document_scores
from reranker_nvidia.errors import RerankerError
from tests.property._support import PROPERTY

SPECIAL = st.sampled_from(
    ["<", ">", "&", "\u2028", "\u2029", '"', "\\", "\x00", "\x08", "\x0c", "\x7f", "é", "😀"]
)
CHARS = st.one_of(st.characters(), st.characters(categories=["Cs"]), SPECIAL)
TEXTS = st.text(CHARS, max_size=16)

REQUESTS = st.fixed_dictionaries(
    {
        "model": TEXTS,
        "query": st.fixed_dictionaries({"text": TEXTS}),
        "passages": st.lists(st.fixed_dictionaries({"text": TEXTS}), max_size=6),
    }
)


@settings(PROPERTY, max_examples=400)
@given(REQUESTS)
def test_a_request_body_is_written_as_the_slow_path_writes_it(value: dict[str, Any]) -> None:
    slow = marshal([value])
    assert slow.startswith(b"[") and slow.endswith(b"]")
    assert marshal(value) == slow[1:-1]


def test_numbers_keep_the_slow_path() -> None:
    # json.dumps spells 1e-07 as Go does; to_json would write 1e-7.
    assert marshal({"a": 1e-07}) == b'{"a":1e-07}'


INDEX = st.one_of(
    st.integers(min_value=-2, max_value=6),
    st.sampled_from([True, 2**70, 1.0, "1", None]),
)
LOGIT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([1, True, "0.5", None, 0.0, -0.0]),
)
RANKING = st.one_of(
    st.fixed_dictionaries({"index": INDEX, "logit": LOGIT}),
    st.fixed_dictionaries({"index": INDEX, "logit": LOGIT, "extra": st.integers()}),
    st.fixed_dictionaries({"index": INDEX}),
    st.sampled_from([[], 3, "x", None]),
)


def body_text(rankings: Any, shape: str) -> bytes:
    if shape == "null":
        return b'{"rankings":null}'
    if shape == "absent":
        return b'{"usage":{"total_tokens":3}}'
    if shape == "nan":
        return b'{"rankings":[{"index":0,"logit":NaN}]}'
    if shape == "huge":
        return b'{"rankings":[{"index":0,"logit":1e400}]}'
    if shape == "cut":
        return json.dumps({"rankings": rankings}).encode()[:-3]
    return json.dumps({"rankings": rankings}).encode()


def outcome(run: Any) -> tuple[str, Any]:
    try:
        scores = run()
    except RerankerError as err:
        return type(err).__name__, str(err)
    return "ok", [(s.document, s.score, type(s.score)) for s in scores]  # 1 and 1.0 differ


def slow_path(body: bytes, documents: list[str]) -> list[Any]:
    refuse_more_rankings_than(len(documents), body)
    return to_document_scores(documents, list(parse_rank_response(200, body)))


@settings(PROPERTY, max_examples=1500)
@example([{"index": 0, "logit": 1}], 1, "list")  # an int logit: the model makes it 1.0
@example([{"index": True, "logit": 0.5}], 2, "list")
@example([{"index": 1, "logit": 0.5}, {"index": 0, "logit": -0.0}], 2, "list")
@given(
    st.lists(RANKING, max_size=7),
    st.integers(min_value=0, max_value=5),
    st.sampled_from(["list"] * 6 + ["null", "absent", "nan", "huge", "cut"]),
)
def test_a_200_body_has_the_slow_paths_outcome(rankings: Any, count: int, shape: str) -> None:
    body = body_text(rankings, shape)
    documents = [f"d{i}" for i in range(count)]
    fast = outcome(lambda: GO_ROUTE.document_scores(Answer(200, httpx.Headers(), body), documents))
    assert fast == outcome(lambda: slow_path(body, documents))


def test_a_good_body_takes_the_fast_path_and_reads_as_models() -> None:
    body = b'{"rankings":[{"index":1,"logit":0.5},{"index":0,"logit":-1.25}],"usage":{}}'
    rankings = parse_rank_response(200, body, 2)
    assert isinstance(rankings, PlainRankings)
    assert [(r.index, r.logit) for r in rankings] == [(1, 0.5), (0, -1.25)]
    assert [(r.index, r.logit) for r in rankings[::-1]] == [(0, -1.25), (1, 0.5)]
    assert [(r.index, r.logit) for r in parse_rank_response(200, body)] == [(1, 0.5), (0, -1.25)]
