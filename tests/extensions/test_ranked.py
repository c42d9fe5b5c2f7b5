"""``ranked``: a result best first, with each document's index, ties in input order."""

from __future__ import annotations

import pytest

from reranker_nvidia.extensions.ranked import Ranked, ranked
from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult


def result(*scores: float) -> RankResult:
    return RankResult(
        query="q", document_scores=[DocumentScore(f"d{i}", s) for i, s in enumerate(scores)]
    )


def test_best_first_with_input_indices() -> None:
    got = ranked(result(0.5, 2.0, -1.0))
    assert got == [Ranked(1, 2.0, "d1"), Ranked(0, 0.5, "d0"), Ranked(2, -1.0, "d2")]
    assert (got[0].index, got[0].score, got[0].document) == (1, 2.0, "d1")


def test_equal_scores_keep_input_order_also_with_top_n() -> None:
    scores = (1.0, 3.0, 1.0, 3.0, 1.0)
    assert [r.index for r in ranked(result(*scores))] == [1, 3, 0, 2, 4]
    assert [r.index for r in ranked(result(*scores), 3)] == [1, 3, 0]
    assert [r.index for r in ranked(result(*scores), 1)] == [1]


def test_top_n_larger_than_the_result_and_an_empty_result() -> None:
    assert [r.index for r in ranked(result(1.0, 2.0), 10)] == [1, 0]
    assert ranked(result()) == []
    assert ranked(result(), 3) == []


def test_the_result_itself_is_not_reordered() -> None:
    original = result(0.1, 0.9)
    ranked(original)
    assert [s.document for s in original.document_scores] == ["d0", "d1"]


@pytest.mark.parametrize("bad", [0, -1])
def test_top_n_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match=f"top_n must be at least 1, not {bad}"):
        ranked(result(1.0), bad)


@pytest.mark.parametrize("bad", [True, 1.0, "2"])
def test_top_n_must_be_an_int(bad: object) -> None:
    with pytest.raises(TypeError, match="top_n must be an int or None"):
        ranked(result(1.0), bad)  # type: ignore[arg-type]
