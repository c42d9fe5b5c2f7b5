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


@dataclass(slots=True)
class RankResult:
    """The query and one score per document, in the order the documents were given."""

    query: str
    document_scores: list[DocumentScore] = field(default_factory=list)
