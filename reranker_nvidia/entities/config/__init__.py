"""Port of weaviate/weaviate ``entities/config``."""

from reranker_nvidia.entities.config.helpers import enabled

__all__ = ["enabled"]
