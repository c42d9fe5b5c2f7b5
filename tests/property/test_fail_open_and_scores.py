"""Properties of fail-open and the score threshold (D-EXT-FAIL-OPEN, D-EXT-SCORES).

- a call that fails open never changes the documents' order and never invents a score,
  whatever the documents, the failure, ``top_n`` or ``min_score``;
- ``min_score`` never keeps a document scoring below it and never drops one at or above it,
  in ``ranked()`` and in the rerank property;
- each ``score_transform`` is monotonic: it keeps the order of the documents.
"""

from __future__ import annotations

import json

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import ClassBasedModuleConfig, Client, Params, ReRankerProvider, SearchResult
from reranker_nvidia.extensions.ranked import ranked
from reranker_nvidia.extensions.scores import TRANSFORMS, transformed
from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult

from ._support import PROPERTY, finite_floats

BASE = "http://nim.test"
documents = st.lists(st.text(max_size=20), min_size=1, max_size=12)
failures = st.sampled_from([400, 401, 404, 429, 500, 502, 503, "drop"])


def _failing(failure: int | str) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if failure == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(int(failure), json={"detail": "no"})

    return httpx.MockTransport(answer)


def _scoring(logits: list[float]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        count = len(json.loads(request.content)["passages"])
        rankings = [{"index": i, "logit": logits[i % len(logits)]} for i in range(count)]
        return httpx.Response(200, json={"rankings": rankings})

    return httpx.MockTransport(answer)


@settings(PROPERTY, max_examples=60)
@given(
    documents,
    failures,
    st.none() | st.integers(1, 15),
    st.none() | finite_floats,
    st.integers(1, 5),
)
def test_fail_open_never_reorders_nor_invents_a_score(
    docs: list[str], failure: int | str, top_n: int | None, min_score: float | None, size: int
) -> None:
    client = Client("k", on_error="input_order", transport=_failing(failure))
    settings_ = {"baseURL": BASE, "maxDocuments": size}
    if min_score is not None:
        settings_["minScore"] = min_score
    with client:
        result = client.rank("q", docs, ClassBasedModuleConfig.for_settings(settings_))
    assert result.reranked is False
    assert result.error is not None
    assert [s.document for s in result.document_scores] == docs
    assert all(s.score is None for s in result.document_scores)
    rows = ranked(result, top_n)
    assert [r.index for r in rows] == list(range(len(docs)))[:top_n]
    assert all(r.score is None for r in rows)


scores_lists = st.lists(finite_floats, min_size=1, max_size=30)


@settings(PROPERTY, max_examples=300)
@given(scores_lists, finite_floats, st.none() | st.integers(1, 40))
def test_min_score_keeps_exactly_what_scores_at_or_above_it(
    scores: list[float], threshold: float, top_n: int | None
) -> None:
    result = RankResult(
        "q", [DocumentScore(str(i), s) for i, s in enumerate(scores)], min_score=threshold
    )
    rows = ranked(result)
    assert {r.index for r in rows} == {i for i, s in enumerate(scores) if s >= threshold}
    assert [r.score for r in rows] == sorted((r.score for r in rows), key=lambda s: -(s or 0))
    assert ranked(result, top_n) == rows[:top_n]


@settings(PROPERTY, max_examples=60)
@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=8),
    st.floats(-50, 50, allow_nan=False),
)
def test_the_rerank_property_keeps_exactly_what_scores_at_or_above_min_score(
    logits: list[float], threshold: float
) -> None:
    results = [SearchResult(schema={"text": f"doc {i}"}) for i in range(len(logits))]
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": BASE, "minScore": threshold})
    with Client("k", transport=_scoring(logits)) as client:
        out = ReRankerProvider(client).additional_property_fn(
            results, Params(property="text", query="q"), None, None, cfg
        )
    kept = [r.object().properties["text"] for r in out]
    assert set(kept) == {f"doc {i}" for i, s in enumerate(logits) if s >= threshold}
    got = [r.additional_properties["rerank"][0].score for r in out]  # type: ignore[index]
    assert got == sorted(got, reverse=True)


@settings(PROPERTY, max_examples=300)
@given(st.sampled_from(sorted(TRANSFORMS)), finite_floats, finite_floats)
def test_each_transform_is_monotonic_and_within_0_and_1(name: str, x: float, y: float) -> None:
    f = TRANSFORMS[name]
    low, high = sorted((x, y))
    assert 0.0 <= f(low) <= f(high) <= 1.0


@settings(PROPERTY, max_examples=200)
@given(
    st.sampled_from(sorted(TRANSFORMS)),
    st.lists(st.integers(-20_000, 20_000), min_size=1, max_size=20),
)
def test_a_transform_keeps_the_ranked_order(name: str, millis: list[int]) -> None:
    # Logits within ±20, a thousandth apart: no two distinct ones map to the same float.
    raw = [m / 1000 for m in millis]
    before = RankResult("q", [DocumentScore(str(i), s) for i, s in enumerate(raw)])
    order = [r.index for r in ranked(before)]
    after = transformed(
        RankResult("q", [DocumentScore(str(i), s) for i, s in enumerate(raw)]), name
    )
    assert [s.document for s in after.document_scores] == [str(i) for i in range(len(raw))]
    assert [r.index for r in ranked(after)] == order
