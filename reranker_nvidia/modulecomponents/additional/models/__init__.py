"""Port of weaviate/weaviate ``usecases/modulecomponents/additional/models``."""

from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult

__all__ = ["RankResult"]
