"""The wire JSON Schemas under ``contracts/schemas/``, generated from the port's pydantic models.

``reranker-nvidia contracts schemas --write`` rewrites them; ``--check`` (and
a test) fails when a committed file differs from what the models generate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import TypeAdapter

from reranker_nvidia.clients.ranker import (
    NimError,
    ProblemDetails,
    RankRequest,
    RankResponse,
    ResponseError402,
    ResponseError422,
)
from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult


class _Shape(Protocol):
    """A wire struct of clients/ranker.py (or any pydantic model): it writes its JSON Schema."""

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]: ...


def _model(model: type[_Shape], title: str, description: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        schema = model.model_json_schema()
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **schema,
            "title": title,
            "description": description,
        }

    return build


def _additional_rerank() -> dict[str, Any]:
    schema = TypeAdapter(list[RankResult]).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "_additional.rerank",
        "description": "What the rerank property writes into each result's _additional.",
    }


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "rank-request.schema.json": _model(
        RankRequest,
        "NIM rerank request",
        "POST {baseURL}/v1/retrieval/nvidia/reranking, as the module sends it.",
    ),
    "rank-response.schema.json": _model(
        RankResponse, "NIM rerank response", "The 200 body: one ranking per passage."
    ),
    "error-402-403.schema.json": _model(
        ResponseError402, "402/403 error body (Go's shape)", "What Go reads for 402 and 403."
    ),
    "error-422.schema.json": _model(
        ResponseError422, "422 error body (Go's shape)", "FastAPI's list form, which Go reads."
    ),
    "problem-details.schema.json": _model(
        ProblemDetails, "NVIDIA problem details", "RFC 7807, as NVIDIA's hosted service sends."
    ),
    "nim-error.schema.json": _model(
        NimError, "Self-hosted NIM error", "A self-hosted NIM container's error body."
    ),
    "additional-rerank.schema.json": _additional_rerank,
}


def render(name: str) -> str:
    return json.dumps(SCHEMAS[name](), indent=2, sort_keys=False) + "\n"


def stale(directory: Path) -> list[str]:
    """The schema files that are missing or differ from what the models generate."""
    return [
        name
        for name in SCHEMAS
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != render(name)
    ]


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / name
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written
