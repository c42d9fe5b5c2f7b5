"""The model NVIDIA names as a retired or renamed reranker's successor (D-EXT-LIFECYCLE).

Python only; Go names none. A small table, dated, each row with the NVIDIA
page that states it: a 410, a ``Deprecation``/``Sunset`` warning and the
hint of a 404 add the successor only when the table knows the model, and
never change Go's message on Go's route. A model NVIDIA has named no
successor for is not in the table, however old: ``nvidia/rerank-qa-mistral-4b``
(Go's default, still answered on the hosted route) and
``nvidia/nv-rerankqa-mistral-4b-v3`` (its hosted route answers 404 to most
accounts; NVIDIA's NIM support matrix still lists it for self-hosting) have
no row.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHECKED", "SUCCESSORS", "Successor", "successor_line", "successor_of"]

CHECKED = "2026-12-07"
"""The day every row's sources were last read."""

_RELEASE_NOTES_1_10 = (
    "https://docs.nvidia.com/nim/nemo-retriever/text-reranking/1.10.0/release-notes.html"
)
_HOSTED_VL_DEFAULT = "https://github.com/NVIDIA/NeMo-Retriever/pull/2576"


@dataclass(frozen=True, slots=True)
class Successor:
    """One row: a model, the model that replaces it, and where NVIDIA says so."""

    model: str
    successor: str
    sources: tuple[str, ...]
    for_images: str | None = None
    """NVIDIA's vision-language reranker, where NVIDIA moved this model's hosted users to it."""


SUCCESSORS: dict[str, Successor] = {
    row.model: row
    for row in (
        # Reranking NIM 1.10.0's release notes: "The llama-3.2-nv-rerankqa-1b-v2 model is now
        # named llama-nemotron-rerank-1b-v2." Its hosted route answers 410 since 2026-05-18;
        # NVIDIA's NeMo Retriever replaced it in its hosted examples with the VL reranker.
        Successor(
            "nvidia/llama-3.2-nv-rerankqa-1b-v2",
            "nvidia/llama-nemotron-rerank-1b-v2",
            (_RELEASE_NOTES_1_10, _HOSTED_VL_DEFAULT),
            for_images="nvidia/llama-nemotron-rerank-vl-1b-v2",
        ),
        # The same notes: "The llama-3.2-nemoretriever-500m-rerank-v2 model is now named
        # llama-nemotron-rerank-500m-v2."
        Successor(
            "nvidia/llama-3.2-nemoretriever-500m-rerank-v2",
            "nvidia/llama-nemotron-rerank-500m-v2",
            (_RELEASE_NOTES_1_10,),
        ),
    )
}
"""Retired or renamed model → its row; checked on :data:`CHECKED`."""


def successor_of(model: str) -> Successor | None:
    """The row of ``model`` (as sent, or without its ``nvidia/`` prefix), else ``None``."""
    name = model.strip()
    return SUCCESSORS.get(name) or SUCCESSORS.get(f"nvidia/{name}")


def successor_line(model: str) -> str | None:
    """``its successor is M (for images, V)``, or ``None`` when the table does not know it."""
    row = successor_of(model)
    if row is None:
        return None
    images = f" (for images, {row.for_images})" if row.for_images else ""
    return f"its successor is {row.successor}{images}"
