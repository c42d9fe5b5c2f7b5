"""What lands in ``_additional.rerank``.

Port of usecases/modulecomponents/additional/models/ranker.go (``RankResult``
with ``Score *float64 `json:"score,omitempty"```). A pydantic model, so the
output's JSON Schema (contracts/schemas/) is generated from it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RankResult(BaseModel):
    """One entry of ``_additional.rerank``: ``{"score": <float>}``."""

    score: float | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"score": s}``; an unset score is left out, as Go's ``omitempty`` does."""
        return {} if self.score is None else {"score": self.score}
