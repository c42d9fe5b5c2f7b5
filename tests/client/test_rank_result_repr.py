"""``repr(RankResult)`` stays the dataclass's for short results and stays short for long ones."""

from __future__ import annotations

import asyncio

import pytest

from reranker_nvidia.modulecomponents.ent.rank_result import REPR_SCORES, DocumentScore, RankResult


def result(count: int) -> RankResult:
    return RankResult("q", [DocumentScore(f"doc {i}", i / 2) for i in range(count)])


def test_a_short_result_shows_every_score() -> None:
    shown = repr(result(2))
    assert shown == (
        "RankResult(query='q', document_scores=[DocumentScore(document='doc 0', score=0.0), "
        "DocumentScore(document='doc 1', score=0.5)])"
    )
    assert repr(result(REPR_SCORES)).count("DocumentScore(") == REPR_SCORES


def test_a_long_result_shows_the_first_scores_and_how_many_more() -> None:
    shown = repr(result(100_000))
    assert shown.count("DocumentScore(") == REPR_SCORES
    assert shown.endswith(f", ... {100_000 - REPR_SCORES} more])")
    assert len(shown) < 2_000


def test_asyncio_run_does_not_format_every_score(monkeypatch: pytest.MonkeyPatch) -> None:
    big = result(200_000)
    formatted: list[DocumentScore] = []
    plain = DocumentScore.__repr__

    def counting(self: DocumentScore) -> str:
        formatted.append(self)
        return plain(self)

    monkeypatch.setattr(DocumentScore, "__repr__", counting)

    async def main() -> RankResult:
        return big

    assert asyncio.run(main()) is big
    # asyncio.run formats the finished task (with its result) when it restores SIGINT's handler.
    assert len(formatted) <= 4 * REPR_SCORES
