"""reranker-nvidia: Weaviate's NVIDIA reranker module, ported to Python.

The package mirrors weaviate/weaviate ``modules/reranker-nvidia`` and the
``usecases/modulecomponents`` code it uses, file for file (docs/go-mapping.md).
The names most callers need are re-exported here::

    from reranker_nvidia import Client, SearchResult, ReRankerProvider, Params

    with Client() as client:                       # NVIDIA_APIKEY from the environment
        result = client.rank("query", ["doc one", "doc two"])
"""

from reranker_nvidia.clients.ranker import MAX_DOCUMENTS, AsyncClient, Client
from reranker_nvidia.config.class_settings import (
    DEFAULT_BASE_URL,
    DEFAULT_NVIDIA_MODEL,
    ClassSettings,
)
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.errors import (
    BaseURLError,
    ClientRankError,
    ConfigError,
    DeadlineExceededError,
    DialRefusedError,
    ErrorResponseParseError,
    InvalidRankingsError,
    MissingAPIKeyError,
    ParamsError,
    RedirectError,
    RequestBuildError,
    RerankerError,
    ResponseParseError,
    TransportError,
    UpstreamError,
)
from reranker_nvidia.module import NAME, ModuleInitParams, RerankerModule
from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_NVIDIA_MODEL",
    "MAX_DOCUMENTS",
    "NAME",
    "AsyncClient",
    "BaseURLError",
    "ClassBasedModuleConfig",
    "ClassConfig",
    "ClassSettings",
    "Client",
    "ClientRankError",
    "ConfigError",
    "DeadlineExceededError",
    "DialRefusedError",
    "DocumentScore",
    "ErrorResponseParseError",
    "InvalidRankingsError",
    "MissingAPIKeyError",
    "ModuleInitParams",
    "Params",
    "ParamsError",
    "RankResult",
    "ReRankerProvider",
    "RedirectError",
    "RequestBuildError",
    "RerankerError",
    "RerankerModule",
    "ResponseParseError",
    "SearchResult",
    "TransportError",
    "UpstreamError",
    "__version__",
]
