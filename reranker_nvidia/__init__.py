"""reranker-nvidia: Weaviate's NVIDIA reranker module, ported to Python.

The package mirrors weaviate/weaviate ``modules/reranker-nvidia`` and the
``usecases/modulecomponents`` code it uses, file for file (docs/go-mapping.md).
``errors.py`` is not a port of a Go file: Go returns plain ``error`` values.
The names most callers need are re-exported here, each imported on first use
(this module loads only the core, and only what is asked for); every other
name is imported from the module that defines it::

    from . import Client, SearchResult, ReRankerProvider, Params

    with Client() as client:                       # NVIDIA_APIKEY from the environment
        result = client.rank("query", ["doc one", "doc two"])

Two Go types are called ``RankResult``: ``ent.RankResult`` (what
:meth:`Client.rank` returns) is ``RankResult`` here, and
``models.RankResult`` (each entry of ``_additional.rerank``) is
``RerankScore``.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
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
    from .extensions.images import Passage
    from .extensions.ranked import Ranked, ranked
    from .module import ModuleInitParams, RerankerModule
    from .modulecomponents.additional.models.ranker import RankResult as RerankScore
    from .modulecomponents.additional.rank.rank import (
        AsyncReRankerProvider,
        ReRankerProvider,
    )
    from .modulecomponents.additional.rank.rank_params import Params
    from .modulecomponents.ent.rank_result import DocumentScore, RankResult
    from .usecases.modules.module_config import ClassBasedModuleConfig

_LAZY: dict[str, tuple[str, str]] = {
    "AsyncClient": (".clients.ranker", "AsyncClient"),
    "Client": (".clients.ranker", "Client"),
    "MAX_DOCUMENTS": (".clients.ranker", "MAX_DOCUMENTS"),
    "ClassSettings": (".config.class_settings", "ClassSettings"),
    "DEFAULT_BASE_URL": (".config.class_settings", "DEFAULT_BASE_URL"),
    "DEFAULT_NVIDIA_MODEL": (".config.class_settings", "DEFAULT_NVIDIA_MODEL"),
    "NAME": (".config.class_settings", "NAME"),
    "ClassConfig": (".entities.moduletools.config", "ClassConfig"),
    "SearchResult": (".entities.search.result", "SearchResult"),
    "BaseURLError": (".errors", "BaseURLError"),
    "ClientRankError": (".errors", "ClientRankError"),
    "ConfigError": (".errors", "ConfigError"),
    "DeadlineExceededError": (".errors", "DeadlineExceededError"),
    "DialRefusedError": (".errors", "DialRefusedError"),
    "EndpointMismatchError": (".errors", "EndpointMismatchError"),
    "ErrorResponseParseError": (".errors", "ErrorResponseParseError"),
    "InvalidAPIKeyError": (".errors", "InvalidAPIKeyError"),
    "InvalidPassageError": (".errors", "InvalidPassageError"),
    "InvalidRankingsError": (".errors", "InvalidRankingsError"),
    "MissingAPIKeyError": (".errors", "MissingAPIKeyError"),
    "ModelDeprecationWarning": (".errors", "ModelDeprecationWarning"),
    "ModelRetiredError": (".errors", "ModelRetiredError"),
    "ParamsError": (".errors", "ParamsError"),
    "RedirectError": (".errors", "RedirectError"),
    "RequestBuildError": (".errors", "RequestBuildError"),
    "RerankerError": (".errors", "RerankerError"),
    "ResponseParseError": (".errors", "ResponseParseError"),
    "ResponseTooLargeError": (".errors", "ResponseTooLargeError"),
    "SettingsWarning": (".errors", "SettingsWarning"),
    "TokenLimitError": (".errors", "TokenLimitError"),
    "TransportError": (".errors", "TransportError"),
    "UpstreamError": (".errors", "UpstreamError"),
    "Passage": (".extensions.images", "Passage"),
    "Ranked": (".extensions.ranked", "Ranked"),
    "ranked": (".extensions.ranked", "ranked"),
    "ModuleInitParams": (".module", "ModuleInitParams"),
    "RerankerModule": (".module", "RerankerModule"),
    "RerankScore": (".modulecomponents.additional.models.ranker", "RankResult"),
    "AsyncReRankerProvider": (".modulecomponents.additional.rank.rank", "AsyncReRankerProvider"),
    "ReRankerProvider": (".modulecomponents.additional.rank.rank", "ReRankerProvider"),
    "Params": (".modulecomponents.additional.rank.rank_params", "Params"),
    "DocumentScore": (".modulecomponents.ent.rank_result", "DocumentScore"),
    "RankResult": (".modulecomponents.ent.rank_result", "RankResult"),
    "ClassBasedModuleConfig": (".usecases.modules.module_config", "ClassBasedModuleConfig"),
}
"""Each public name and where it lives, imported on first use: ``import reranker_nvidia``
loads nothing but this table, and the CLI's ``--help`` none of httpx or pydantic."""

__version__ = "0.1.0"


def __getattr__(name: str) -> _typing.Any:
    """A public name, imported from its module the first time it is asked for."""
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    from importlib import import_module  # noqa: PLC0415 - only on first use of a name

    value = getattr(import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
