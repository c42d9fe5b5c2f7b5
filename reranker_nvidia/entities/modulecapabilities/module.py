"""Module types.

Port of entities/modulecapabilities/module.go (``ModuleType`` and the
reranker's constant ``Text2TextReranker``).
"""

from __future__ import annotations

from enum import StrEnum


class ModuleType(StrEnum):
    """The kind of a Weaviate module; the values are Go's strings."""

    TEXT2TEXT_RERANKER = "Text2TextReranker"
