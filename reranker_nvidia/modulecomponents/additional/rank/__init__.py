"""Port of weaviate/weaviate ``usecases/modulecomponents/additional/rank``."""

from reranker_nvidia.modulecomponents.additional.rank.rank import (
    AsyncReRankerClient,
    ReRankerClient,
    ReRankerProvider,
)
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params

__all__ = ["AsyncReRankerClient", "Params", "ReRankerClient", "ReRankerProvider"]
