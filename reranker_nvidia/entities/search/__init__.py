"""Port of weaviate/weaviate ``entities/search`` (the result shape)."""

from reranker_nvidia.entities.search.result import Object, SearchResult

__all__ = ["Object", "SearchResult"]
