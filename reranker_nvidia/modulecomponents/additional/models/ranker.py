"""What lands in ``_additional.rerank``.

Port of usecases/modulecomponents/additional/models/ranker.go (``RankResult``
with ``Score *float64 `json:"score,omitempty"```).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RankResult:
    """One entry of ``_additional.rerank``: ``{"score": <float>}``."""

    score: float | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"score": s}``; an unset score is left out, as Go's ``omitempty`` does."""
        return {} if self.score is None else {"score": self.score}
