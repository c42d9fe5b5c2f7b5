"""What a reranker client returns.

Port of usecases/modulecomponents/ent/rank_result.go (``RankResult``,
``DocumentScore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DocumentScore:
    """One document and its score (the raw logit for NVIDIA)."""

    document: str
    score: float


@dataclass(slots=True, repr=False)
class RankResult:
    """The query and one score per document, in the order the documents were given."""

    query: str
    document_scores: list[DocumentScore] = field(default_factory=list)

    def __repr__(self) -> str:
        # Python only: at most REPR_SCORES scores shown. asyncio formats a finished task's
        # result (asyncio.run restoring its SIGINT handler does), and a full repr of 100 000
        # scores costs a quarter of a second and 24 MB.
        scores = self.document_scores
        shown = ", ".join(map(repr, scores[:REPR_SCORES]))
        more = f", ... {len(scores) - REPR_SCORES} more" if len(scores) > REPR_SCORES else ""
        return f"RankResult(query={self.query!r}, document_scores=[{shown}{more}])"


REPR_SCORES = 16
"""The scores ``repr(RankResult)`` shows; it shows every one of a result this long or shorter."""
