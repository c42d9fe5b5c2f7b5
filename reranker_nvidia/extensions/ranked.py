"""The ranked view of a result: best first, with each document's place in the input (D-EXT-RANKED).

Python only. Go's ``RankResult`` keeps the documents in the order they were
given, each with its score; :func:`ranked` turns that into what a caller
usually wants: ``(index, score, document)``, highest score first, equal scores
in input order, optionally only the best ``top_n``. Nothing is sent: it reads
a result already returned.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

from ..modulecomponents.ent.rank_result import RankResult

__all__ = ["Ranked", "ranked"]


class Ranked(NamedTuple):
    """One document of a ranked result."""

    index: int  # type: ignore[assignment]  # the name the view promises; tuple.index is shadowed
    """Its position in the documents given to ``rank`` (from 0)."""
    score: float | None
    """The model's score (the raw logit unless ``score_transform`` is set); ``None`` in a
    result that was not reranked (D-EXT-FAIL-OPEN)."""
    document: str
    """The document itself."""


def ranked(
    result: RankResult, top_n: int | None = None, *, min_score: float | None = None
) -> list[Ranked]:
    """``result``'s documents by score, highest first, ties in input order; at most ``top_n``.

    ``top_n`` must be at least 1 when given (``ValueError`` otherwise, or
    ``TypeError`` for a value that is not an ``int``). ``min_score`` (else the
    call's own, ``result.min_score``) drops the documents scoring below it, after
    the sort (D-EXT-SCORES). A result that was not reranked (D-EXT-FAIL-OPEN)
    keeps its input order, every document, unscored.
    """
    if top_n is not None:
        if isinstance(top_n, bool) or not isinstance(top_n, int):
            raise TypeError(f"top_n must be an int or None, not {type(top_n).__name__}")
        if top_n < 1:
            raise ValueError(f"top_n must be at least 1, not {top_n}")
    rows = [
        Ranked(index, scored.score, scored.document)
        for index, scored in enumerate(result.document_scores)
    ]
    if not result.reranked:
        return rows[:top_n]
    threshold = result.min_score if min_score is None else min_score
    if threshold is not None:
        rows = [row for row in rows if row.score is not None and row.score >= threshold]

    def key(row: Ranked) -> tuple[float, int]:
        return (-(row.score or 0.0), row.index)

    if top_n is not None and top_n < len(rows):
        return heapq.nsmallest(top_n, rows, key=key)
    return sorted(rows, key=key)
