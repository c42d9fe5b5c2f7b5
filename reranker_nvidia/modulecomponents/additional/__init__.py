"""Port of weaviate/weaviate ``usecases/modulecomponents/additional`` (the ranker provider)."""

from reranker_nvidia.modulecomponents.additional.provider_ranker import (
    PROPERTY_RERANK,
    GraphQLAdditionalRankerProvider,
    new_ranker_provider,
)

__all__ = ["PROPERTY_RERANK", "GraphQLAdditionalRankerProvider", "new_ranker_provider"]
