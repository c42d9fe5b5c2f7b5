"""Port of weaviate/weaviate ``entities/moduletools``."""

from reranker_nvidia.entities.moduletools.config import ClassConfig

__all__ = ["ClassConfig"]
