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
    "Route",
    "Truncate",
    "model_path",
    "self_hosted_info",
]

Truncate = Literal["NONE", "END"]
Route = Literal["hosted", "self-hosted"]
"""Where a limit applies: NVIDIA's hosted routes, or a self-hosted NIM (and the gateway)."""

DEFAULT_SELF_HOSTED_MODEL: Final = "nvidia/llama-nemotron-rerank-1b-v2"


@dataclass(frozen=True)
class ModelInfo:
    """What the emulator does for one model id.

    ``max_tokens`` is the limit per query+passage pair, counted with the
    emulator's approximation (``_tokens``), not NVIDIA's tokenizer;
    ``max_seq_len`` is the most a self-hosted NIM's ``NIM_PIPELINE_MAX_SEQ_LEN``
    can raise it to (None: ``max_tokens``, it cannot be raised).
    ``max_passages`` and ``default_truncate`` are a self-hosted NIM's (and the
    gateway's); ``hosted_max_passages`` and ``hosted_default_truncate``, when
    set, are what NVIDIA's hosted route for the model says instead: limits
    belong to the route, not the model.
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
    hosted_max_passages: int | None = None
    hosted_default_truncate: Truncate | None = None
    max_seq_len: int | None = None

    def passages_on(self, route: Route) -> int:
        """The most passages one request may carry on ``route``."""
        if route == "hosted" and self.hosted_max_passages is not None:
            return self.hosted_max_passages
        return self.max_passages

    def truncate_on(self, route: Route) -> Truncate:
        """The ``truncate`` a request without one gets on ``route``."""
        if route == "hosted" and self.hosted_default_truncate is not None:
            return self.hosted_default_truncate
        return self.default_truncate


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
        # 8192 tokens in every 2.x support matrix (2.0.0, 2.3; 1.12's said 10240: the stricter,
        # newer figure is kept). A self-hosted NIM takes 512 passages and truncates nothing by
        # default (2.0.0 "VLM Reranking Requests"; 2.3 "Use Reranking NIM": NONE by default);
        # the hosted reference (docs.api.nvidia.com, ...-vl-1b-v2-infer) says 1-1000 passages
        # and "Defaults to END".
        ModelInfo(
            "nvidia/llama-nemotron-rerank-vl-1b-v2",
            max_tokens=8192,
            hosted_per_model=True,
            multimodal=True,
            hosted_max_passages=1000,
            hosted_default_truncate="END",
        ),
        # NIM 2.4's multimodal reranker (text, image or both per passage). 2.4's support matrix:
        # 10240 tokens a pair by default, up to 32768 with NIM_PIPELINE_MAX_SEQ_LEN.
        ModelInfo(
            "nvidia/Nemotron-3.5-Rerank-8B-BF16",
            max_tokens=10240,
            multimodal=True,
            max_seq_len=32768,
        ),
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
