"""The module's meta information.

Port of modules/reranker-nvidia/clients/ranker_meta.go.
"""

from __future__ import annotations

from typing import Any


def meta_info() -> dict[str, Any]:
    """What ``GET /v1/meta`` shows for the module."""
    return {
        "name": "Reranker - NVIDIA",
        "documentationHref": "https://docs.api.nvidia.com/nim/reference/retrieval-apis",
    }
