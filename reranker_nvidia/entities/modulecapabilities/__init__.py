"""Port of weaviate/weaviate ``entities/modulecapabilities`` (the parts used here)."""

from reranker_nvidia.entities.modulecapabilities.additional import (
    AdditionalProperty,
    AdditionalPropertyFn,
    AdditionalSearch,
)
from reranker_nvidia.entities.modulecapabilities.module import ModuleType

__all__ = ["AdditionalProperty", "AdditionalPropertyFn", "AdditionalSearch", "ModuleType"]
