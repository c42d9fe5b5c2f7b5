"""The reranking models the emulator knows: routes, token limits, passage limits, end of life.

The table follows NVIDIA's model documentation (models, routes, limits, end of
life); every value it does not state is marked *chosen* below and in
docs/emulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

__all__ = [
    "DEFAULT_SELF_HOSTED_MODEL",
    "GENERIC_ROUTE_MODELS",
    "HOSTED_PER_MODEL",
    "MODELS",
    "ModelInfo",
    "Truncate",
    "model_path",
    "self_hosted_info",
]

Truncate = Literal["NONE", "END"]

DEFAULT_SELF_HOSTED_MODEL: Final = "nvidia/llama-nemotron-rerank-1b-v2"


@dataclass(frozen=True)
class ModelInfo:
    """What the emulator does for one model id.

    ``max_tokens`` is the limit per query+passage pair, counted with the
    emulator's approximation (``_tokens``), not NVIDIA's tokenizer.
    ``self_hosted_overflow_status`` is the status of a token overflow on
    ``/v1/ranking`` (400 in the 2024 mistral-v3 NIM log, 422 in the 2026
    llama-nemotron NIM report). ``multimodal`` models take image passages
    (NIM 2.x's VLM rerankers).
    """

    id: str
    max_tokens: int
    max_passages: int = 512
    default_truncate: Truncate = "NONE"
    end_of_life: datetime | None = None
    hosted_per_model: bool = False
    self_hosted_overflow_status: int = 422
    multimodal: bool = False


MODELS: Final[dict[str, ModelInfo]] = {
    info.id: info
    for info in (
        # The generic route's model and its alias. Token limit: not documented; 512 is *chosen*
        # (the mistral-4b rerankers' limit). Truncates by default: NVIDIA says so of the
        # alias, and the two ids name one model.
        ModelInfo("nvidia/rerank-qa-mistral-4b", max_tokens=512, default_truncate="END"),
        ModelInfo("nv-rerank-qa-mistral-4b:1", max_tokens=512, default_truncate="END"),
        ModelInfo(
            "nvidia/nv-rerankqa-mistral-4b-v3",
            max_tokens=512,
            hosted_per_model=True,
            self_hosted_overflow_status=400,
        ),
        # Token limit not documented: 512 is *chosen* (the v1 generation's limit).
        ModelInfo("nvidia/llama-3.2-nv-rerankqa-1b-v1", max_tokens=512, hosted_per_model=True),
        # End of life 2026-05-18 (NVIDIA's notice); the time of day, 00:00:00Z, is *chosen*.
        ModelInfo(
            "nvidia/llama-3.2-nv-rerankqa-1b-v2",
            max_tokens=8192,
            hosted_per_model=True,
            end_of_life=datetime(2026, 5, 18, tzinfo=UTC),
        ),
        ModelInfo("nvidia/llama-nemotron-rerank-1b-v2", max_tokens=8192, hosted_per_model=True),
        ModelInfo("nvidia/llama-nemotron-rerank-500m-v2", max_tokens=8192),
        ModelInfo("nvidia/llama-3.2-nemoretriever-500m-rerank-v2", max_tokens=8192),
        # "8192–10240" in NVIDIA's documentation: the upper bound is *chosen*. 1000 passages is
        # the hosted limit; the emulator applies it on /v1/ranking too (*chosen*).
        ModelInfo(
            "nvidia/llama-nemotron-rerank-vl-1b-v2",
            max_tokens=10240,
            max_passages=1000,
            default_truncate="END",
            hosted_per_model=True,
            multimodal=True,
        ),
        # NIM 2.4's multimodal reranker (text, image or both per passage).
        ModelInfo("nvidia/Nemotron-3.5-Rerank-8B-BF16", max_tokens=32768, multimodal=True),
    )
}

GENERIC_ROUTE_MODELS: Final = ("nvidia/rerank-qa-mistral-4b", "nv-rerank-qa-mistral-4b:1")


def model_path(model_id: str) -> str:
    """The path segment of a hosted per-model route: ``nvidia/`` dropped, ``.`` written ``_``.

    >>> model_path("nvidia/llama-3.2-nv-rerankqa-1b-v2")
    'llama-3_2-nv-rerankqa-1b-v2'
    """
    return model_id.removeprefix("nvidia/").replace(".", "_")


HOSTED_PER_MODEL: Final[dict[str, ModelInfo]] = {
    model_path(info.id): info for info in MODELS.values() if info.hosted_per_model
}


def self_hosted_info(model_id: str) -> ModelInfo:
    """The served model's limits; an id the table does not know gets 8192 tokens (*chosen*)."""
    return MODELS.get(model_id) or ModelInfo(model_id, max_tokens=8192)
