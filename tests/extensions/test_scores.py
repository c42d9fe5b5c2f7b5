"""Scores a user can threshold: ``score_transform`` and ``min_score`` (D-EXT-SCORES).

Against the emulator: each transform's values from the same call's raw logits, the order
unchanged, ``min_score`` kept in the result and applied by ``ranked()`` and the rerank
property (keep ``score >= threshold``), a class setting over the keyword.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator
from reranker_nvidia import (
    AsyncClient,
    AsyncReRankerProvider,
    ClassBasedModuleConfig,
    Client,
    ConfigError,
    Params,
    ReRankerProvider,
    SearchResult,
)
from reranker_nvidia.extensions.ranked import ranked
from reranker_nvidia.extensions.scores import TRANSFORMS, sigmoid
from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult

KEY = "test-key"
DOCUMENTS = ["Cafeteria 8-8.", "Library hours 9-5.", "Gym 6-10.", "library opening hours"]
QUERY = "library hours"


@contextmanager
def emulator() -> Iterator[str]:
    with running_emulator(app=create_app(EmulatorConfig(api_key=KEY))) as base:
        yield base


def cfg(base: str, **settings: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": base, **settings})


def rank_sync(base: str, settings: dict[str, Any], **kw: Any) -> RankResult:
    with Client(KEY, **kw) as c:
        return c.rank(QUERY, DOCUMENTS, cfg(base, **settings))


def rank_async(base: str, settings: dict[str, Any], **kw: Any) -> RankResult:
    async def main() -> RankResult:
        async with AsyncClient(KEY, **kw) as c:
            return await c.rank(QUERY, DOCUMENTS, cfg(base, **settings))

    return anyio.run(main)


RANKERS = pytest.mark.parametrize("rank", [rank_sync, rank_async], ids=["sync", "async"])
Rank = Callable[..., RankResult]


def scores(result: RankResult) -> list[float]:
    out = [s.score for s in result.document_scores]
    assert all(isinstance(s, float) for s in out)
    return out  # type: ignore[return-value]


# ---- the functions -----------------------------------------------------------------------


def test_sigmoid_of_0_is_a_half_and_it_never_overflows() -> None:
    assert sigmoid(0.0) == 0.5
    assert sigmoid(1000.0) == 1.0
    assert sigmoid(-1000.0) == 0.0
    assert sigmoid(2.0) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert sigmoid(-2.0) == pytest.approx(1 / (1 + math.exp(2.0)))


def test_nvidia_rag_is_the_sigmoid_of_a_tenth_of_the_logit() -> None:
    f = TRANSFORMS["nvidia-rag"]
    assert f(0.0) == 0.5
    assert f(10.0) == pytest.approx(sigmoid(1.0))
    assert f(-25.0) == pytest.approx(1 / (1 + math.exp(2.5)))


def test_the_two_sigmoids_disagree_away_from_zero() -> None:
    # A logit of 5: sigmoid says 0.993, nvidia-rag 0.622: the same threshold keeps different sets.
    assert TRANSFORMS["sigmoid"](5.0) == pytest.approx(0.9933, abs=1e-4)
    assert TRANSFORMS["nvidia-rag"](5.0) == pytest.approx(0.6225, abs=1e-4)


def test_there_is_no_min_max_transform() -> None:
    assert set(TRANSFORMS) == {"sigmoid", "nvidia-rag"}
    with pytest.raises(
        ConfigError, match=r"score_transform must be one of \[raw sigmoid nvidia-rag\]"
    ):
        Client(KEY, score_transform="minmax")


def test_min_score_must_be_a_finite_number() -> None:
    with pytest.raises(ConfigError, match="min_score must be a finite number"):
        Client(KEY, min_score=math.inf)
    with pytest.raises(ConfigError, match="minScore must be a finite number"):
        Client(KEY).rank(QUERY, DOCUMENTS, cfg("http://nim.test", minScore="0.5"))


# ---- through the client --------------------------------------------------------------------


@RANKERS
@pytest.mark.parametrize("name", ["sigmoid", "nvidia-rag"])
def test_each_transform_maps_the_raw_logits_in_input_order(rank: Rank, name: str) -> None:
    with emulator() as base:
        raw = rank(base, {})
        mapped = rank(base, {}, score_transform=name)
    assert [s.document for s in mapped.document_scores] == DOCUMENTS
    assert scores(mapped) == [pytest.approx(TRANSFORMS[name](x)) for x in scores(raw)]
    assert all(0.0 <= s <= 1.0 for s in scores(mapped))
    assert [r.index for r in ranked(mapped)] == [r.index for r in ranked(raw)]


@RANKERS
def test_raw_is_go_s_logit(rank: Rank) -> None:
    with emulator() as base:
        default = rank(base, {})
        raw = rank(base, {}, score_transform="raw")
    assert scores(raw) == scores(default)
    assert raw.min_score is None


@RANKERS
def test_min_score_is_kept_and_ranked_keeps_what_scores_at_or_above_it(rank: Rank) -> None:
    with emulator() as base:
        plain = rank(base, {}, score_transform="sigmoid")
        # a threshold equal to one document's score keeps that document
        threshold = sorted(scores(plain))[-2]  # the second best
        result = rank(base, {}, score_transform="sigmoid", min_score=threshold)
    assert result.min_score == threshold
    assert scores(result) == scores(plain)  # the result itself keeps every document
    kept = ranked(result)
    assert [r.index for r in kept] == [r.index for r in ranked(plain)][:2]
    assert all(r.score is not None and r.score >= threshold for r in kept)
    assert len(ranked(result, min_score=2.0)) == 0  # the argument wins over the call's own


@RANKERS
def test_the_class_setting_wins_over_the_keyword(rank: Rank) -> None:
    with emulator() as base:
        raw = rank(base, {})
        result = rank(
            base,
            {"scoreTransform": "raw", "minScore": -1000},
            score_transform="sigmoid",
            min_score=0.9,
        )
    assert scores(result) == scores(raw)
    assert result.min_score == -1000.0
    assert len(ranked(result)) == len(DOCUMENTS)


def test_a_result_not_reranked_keeps_every_document_whatever_the_threshold() -> None:
    result = RankResult(
        QUERY, [DocumentScore(d, None) for d in DOCUMENTS], reranked=False, min_score=0.5
    )
    assert [r.index for r in ranked(result)] == [0, 1, 2, 3]
    assert [r.index for r in ranked(result, 2, min_score=0.9)] == [0, 1]


# ---- the rerank property ------------------------------------------------------------------


def _results() -> list[SearchResult]:
    return [SearchResult(schema={"text": t}) for t in DOCUMENTS]


def _rerank_sync(base: str, settings: dict[str, Any]) -> list[SearchResult]:
    with Client(KEY) as c:
        return ReRankerProvider(c).additional_property_fn(
            _results(), Params(property="text", query=QUERY), None, None, cfg(base, **settings)
        )


def _rerank_async(base: str, settings: dict[str, Any]) -> list[SearchResult]:
    async def main() -> list[SearchResult]:
        async with AsyncClient(KEY) as c:
            return await AsyncReRankerProvider(c).additional_property_fn_async(
                _results(), Params(property="text", query=QUERY), None, None, cfg(base, **settings)
            )

    return anyio.run(main)


def _scored(results: list[SearchResult]) -> list[tuple[str, float]]:
    out = []
    for r in results:
        assert r.additional_properties is not None
        out.append((r.object().properties["text"], r.additional_properties["rerank"][0].score))
    return out


@pytest.mark.parametrize("rerank", [_rerank_sync, _rerank_async], ids=["sync", "async"])
def test_the_rerank_property_drops_below_min_score_after_the_sort(
    rerank: Callable[..., list[SearchResult]],
) -> None:
    with emulator() as base:
        every = _scored(rerank(base, {"scoreTransform": "nvidia-rag"}))
        threshold = every[1][1]  # the second best's score: it stays
        kept = _scored(rerank(base, {"scoreTransform": "nvidia-rag", "minScore": threshold}))
        raw = _scored(rerank(base, {}))
    assert kept == every[:2]
    assert [text for text, _ in every] == [text for text, _ in raw]
    assert [s for _, s in every] == [pytest.approx(TRANSFORMS["nvidia-rag"](s)) for _, s in raw]
