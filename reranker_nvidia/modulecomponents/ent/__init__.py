"""Port of weaviate/weaviate ``usecases/modulecomponents/ent`` (the rank result)."""

from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult

__all__ = ["DocumentScore", "RankResult"]
