"""reranker-nvidia: Weaviate's NVIDIA reranker module, ported to Python.

The package mirrors weaviate/weaviate ``modules/reranker-nvidia`` and the
``usecases/modulecomponents`` code it uses, file for file (docs/go-mapping.md).
``errors.py`` is not a port of a Go file: Go returns plain ``error`` values.
The names most callers need are re-exported here, and only here; every other
name is imported from the module that defines it::

    from . import Client, SearchResult, ReRankerProvider, Params

    with Client() as client:                       # NVIDIA_APIKEY from the environment
        result = client.rank("query", ["doc one", "doc two"])

Two Go types are called ``RankResult``: ``ent.RankResult`` (what
:meth:`Client.rank` returns) is ``RankResult`` here, and
``models.RankResult`` (each entry of ``_additional.rerank``) is
``RerankScore``.
"""

from .clients._passages import Passage
from .clients._ranked import Ranked, ranked
from .clients.ranker import MAX_DOCUMENTS, AsyncClient, Client
from .config.class_settings import (
    DEFAULT_BASE_URL,
    DEFAULT_NVIDIA_MODEL,
    NAME,
    ClassSettings,
)
from .entities.moduletools.config import ClassConfig
from .entities.search.result import SearchResult
from .errors import (
    BaseURLError,
    ClientRankError,
    ConfigError,
    DeadlineExceededError,
    DialRefusedError,
    EndpointMismatchError,
    ErrorResponseParseError,
    InvalidAPIKeyError,
    InvalidPassageError,
    InvalidRankingsError,
    MissingAPIKeyError,
    ModelDeprecationWarning,
    ModelRetiredError,
    ParamsError,
    RedirectError,
    RequestBuildError,
    RerankerError,
    ResponseParseError,
    ResponseTooLargeError,
    SettingsWarning,
    TokenLimitError,
    TransportError,
    UpstreamError,
)
from .module import ModuleInitParams, RerankerModule
from .modulecomponents.additional.models.ranker import RankResult as RerankScore
from .modulecomponents.additional.rank.rank import (
    AsyncReRankerProvider,
    ReRankerProvider,
)
from .modulecomponents.additional.rank.rank_params import Params
from .modulecomponents.ent.rank_result import DocumentScore, RankResult
from .usecases.modules.module_config import ClassBasedModuleConfig

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - the dunder last, as test_exported_members wants
    "DEFAULT_BASE_URL",
    "DEFAULT_NVIDIA_MODEL",
    "MAX_DOCUMENTS",
    "NAME",
    "AsyncClient",
    "AsyncReRankerProvider",
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
    "EndpointMismatchError",
    "ErrorResponseParseError",
    "InvalidAPIKeyError",
    "InvalidPassageError",
    "InvalidRankingsError",
    "MissingAPIKeyError",
    "ModelDeprecationWarning",
    "ModelRetiredError",
    "ModuleInitParams",
    "Params",
    "ParamsError",
    "Passage",
    "RankResult",
    "Ranked",
    "ReRankerProvider",
    "RedirectError",
    "RequestBuildError",
    "RerankScore",
    "RerankerError",
    "RerankerModule",
    "ResponseParseError",
    "ResponseTooLargeError",
    "SearchResult",
    "SettingsWarning",
    "TokenLimitError",
    "TransportError",
    "UpstreamError",
    "ranked",
    "__version__",
]
