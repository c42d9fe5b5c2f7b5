"""Scores a user can threshold: ``score_transform`` and ``min_score`` (D-EXT-SCORES).

Python only. Go returns NIM's raw logits, which have no fixed range: a
threshold on them means something only for one model. ``score_transform``
maps every score through one fixed function, the same for every query, so a
threshold keeps its meaning across queries:

- ``raw`` (the default, Go's): the logit as NIM sent it;
- ``sigmoid``: ``1 / (1 + e^-x)``, the logistic function of the logit: a
  logit of 0 is 0.5, and the model's own positive/negative boundary stays there;
- ``nvidia-rag``: ``sigmoid(0.1·x)``, how NVIDIA's RAG blueprint (nvidia-rag
  2.6.0) maps logits before its 0–1 ``reranker_score_threshold``. It is flatter:
  logits from about -30 to 30 spread over 0.05–0.95, where ``sigmoid`` puts
  almost every logit beyond ±5 at 0 or 1.

Min–max scaling is not offered: it maps each query's best document to 1 and
its worst to 0, so a threshold would keep a fixed share of every query's
documents whatever their relevance. ``min_score`` is read by :func:`ranked`
(``result.min_score``) and by the surfaces that sort: it drops what scores
below it, after the sort, on the transformed scale. On the gateway route
(``endpoint="rerank"``) the scores are already 0–1 ``relevance_score``s:
``raw`` keeps them, and a sigmoid squeezes them into 0.5–0.73 (``sigmoid``)
or 0.5–0.52 (``nvidia-rag``), which is seldom what anyone wants.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..modulecomponents.ent.rank_result import DocumentScore, RankResult

__all__ = ["TRANSFORMS", "sigmoid", "transformed"]


def sigmoid(x: float) -> float:
    """The logistic function, without overflow for any finite ``x``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _nvidia_rag(x: float) -> float:
    return sigmoid(0.1 * x)


TRANSFORMS: dict[str, Callable[[float], float]] = {
    "sigmoid": sigmoid,
    "nvidia-rag": _nvidia_rag,
}
"""Each ``score_transform`` but ``raw`` (which leaves the scores as they are)."""


def transformed(result: RankResult, name: str) -> RankResult:
    """``result`` with every score mapped through the transform ``name``; order unchanged."""
    f = TRANSFORMS[name]
    result.document_scores = [
        DocumentScore(s.document, None if s.score is None else f(s.score))
        for s in result.document_scores
    ]
    return result
