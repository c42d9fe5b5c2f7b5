"""What a reranker client returns.

Port of usecases/modulecomponents/ent/rank_result.go (``RankResult``,
``DocumentScore``). After Go's fields, ``RankResult`` has the ones the opt-in
extensions fill; with Go's defaults they keep their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DocumentScore:
    """One document and its score (the raw logit for NVIDIA)."""

    document: str
    score: float | None
    """The model's score; ``None`` only in a result that was not reranked (D-EXT-FAIL-OPEN)."""


@dataclass(slots=True, repr=False)
class RankResult:
    """The query and one score per document, in the order the documents were given."""

    query: str
    document_scores: list[DocumentScore] = field(default_factory=list)
    # Python only: what the extensions report (docs/divergences.md), Go's meaning by default.
    reranked: bool = True
    """``False`` when ``on_error="input_order"`` returned the documents unscored
    (D-EXT-FAIL-OPEN)."""
    error: Exception | None = None
    """The error a not-reranked result stands for."""
    usage: Usage | None = None
    """What the call cost, with ``usage=True`` (D-EXT-USAGE)."""
    min_score: float | None = None
    """The call's ``min_score``: :func:`ranked` drops what scores below it (D-EXT-SCORES)."""

    def __repr__(self) -> str:
        # Python only: at most REPR_SCORES scores shown. asyncio formats a finished task's
        # result (asyncio.run restoring its SIGINT handler does), and a full repr of 100 000
        # scores costs a quarter of a second and 24 MB.
        scores = self.document_scores
        shown = ", ".join(map(repr, scores[:REPR_SCORES]))
        more = f", ... {len(scores) - REPR_SCORES} more" if len(scores) > REPR_SCORES else ""
        return f"RankResult(query={self.query!r}, document_scores=[{shown}{more}])"


@dataclass(slots=True, frozen=True)
class Usage:
    """What one call cost (D-EXT-USAGE); a count the service did not send is ``None``."""

    requests: int
    """HTTP requests sent, retries and probes included."""
    chunks: int
    passages: int
    cache_hits: int = 0
    """Chunks answered from the cache (D-EXT-CACHE): nothing was sent for them."""
    prompt_tokens: int | None = None
    """NIM's ``usage.prompt_tokens`` summed over the chunks, when every answer sent it."""
    total_tokens: int | None = None
    """NIM's ``usage.total_tokens`` summed likewise."""


REPR_SCORES = 16
"""The scores ``repr(RankResult)`` shows; it shows every one of a result this long or shorter."""
