"""Importing weaviate-client: the one place this package does, with the missing-extra message.

weaviate-client imports authlib's httpx integration, which authlib 1.9 deprecates
with a warning it always shows (its own ``simplefilter("always")``); that
warning is about weaviate-client's code, not the caller's, so it is silenced
for this one import and every other filter is left as it was.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings

_MISSING = (
    "reranker_nvidia.weaviate needs weaviate-client v4: pip install 'reranker-nvidia[weaviate]'"
)

with contextlib.suppress(ImportError):
    # Its module-level filter goes in first, so the one below stays in front of it.
    importlib.import_module("authlib.deprecate")

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="The httpx module is deprecated", category=DeprecationWarning
    )
    try:
        from weaviate.collections.classes.grpc import Rerank
        from weaviate.collections.classes.internal import (
            GenerativeGroupByReturn,
            GenerativeReturn,
            GroupByReturn,
            MetadataReturn,
            QueryReturn,
        )
    except ImportError as err:  # pragma: no cover - the dev extra installs it
        raise ImportError(_MISSING) from err

__all__ = [
    "GenerativeGroupByReturn",
    "GenerativeReturn",
    "GroupByReturn",
    "MetadataReturn",
    "QueryReturn",
    "Rerank",
]
