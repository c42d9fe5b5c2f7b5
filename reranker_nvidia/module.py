"""The ``reranker-nvidia`` module.

Port of modules/reranker-nvidia/module.go (``RerankerModule``, the
``ReRankerClient`` interface it declares, and its capability checks). ``init``
reads ``NVIDIA_APIKEY`` once, takes the client timeout from the server config
(``MODULES_CLIENT_TIMEOUT``, default 50 s), and builds the client and the
``rerank`` additional property. The key goes to the client with its source,
so an error about it names ``NVIDIA_APIKEY`` and a pickled client carries none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ._gostd.context import HeaderSource
from .class_configurator import ClassConfigurator
from .clients._sending import APIKey
from .clients.ranker import API_KEY_ENV, Client
from .config.class_settings import NAME
from .entities.modulecapabilities.additional import AdditionalProperties, AdditionalProperty
from .entities.modulecapabilities.module import MetaProvider, Module, ModuleType
from .entities.moduletools.config import ClassConfig
from .errors import RerankerError
from .modulecomponents.additional.provider_ranker import (
    GraphQLAdditionalRankerProvider,
    new_ranker_provider,
)
from .modulecomponents.ent.rank_result import RankResult
from .modulecomponents.validate_baseurl import Resolver
from .usecases.config.environment import (
    Config,
    module_http_client_timeout_from_environment,
)


@dataclass(slots=True)
class ModuleInitParams:
    """What Weaviate hands ``Init``: the server config (and, here, test seams)."""

    config: Config = field(default_factory=Config)
    environ: Mapping[str, str] | None = None
    transport: httpx.BaseTransport | None = None
    resolver: Resolver | None = None

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, **kwargs: Any
    ) -> ModuleInitParams:
        """Params whose config reads ``MODULES_CLIENT_TIMEOUT`` as Weaviate's server does."""
        timeout = module_http_client_timeout_from_environment(environ)
        return cls(config=Config(module_http_client_timeout=timeout), environ=environ, **kwargs)


class ReRankerClient(Protocol):
    """Go's ``ReRankerClient``: what the module needs of its client (``Rank``, ``MetaInfo``)."""

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> RankResult: ...

    def meta_info(self) -> dict[str, Any]: ...


class RerankerModule(ClassConfigurator):
    """Go's ``RerankerModule``: name, type, init, meta info, additional properties."""

    def __init__(self) -> None:
        self.reranker: ReRankerClient | None = None
        self._client: Client | None = None
        self._additional_properties_provider: GraphQLAdditionalRankerProvider | None = None

    def name(self) -> str:
        """``reranker-nvidia``."""
        return NAME

    def type(self) -> ModuleType:
        """``Text2TextReranker``."""
        return ModuleType.TEXT2TEXT_RERANKER

    def init(self, params: ModuleInitParams | None = None) -> None:
        """Build the client; without ``params``, read the environment as Weaviate does."""
        # A bad MODULES_CLIENT_TIMEOUT fails here with Weaviate's start-up text.
        params = params if params is not None else ModuleInitParams.from_environment()
        self._init_additional(params)

    def _init_additional(self, params: ModuleInitParams) -> None:
        env = os.environ if params.environ is None else params.environ
        api_key = APIKey(env.get(API_KEY_ENV, ""), API_KEY_ENV)  # Go: os.Getenv("NVIDIA_APIKEY")
        client = Client(
            api_key,
            params.config.module_http_client_timeout,
            transport=params.transport,
            resolver=params.resolver,
        )
        self._additional_properties_provider = new_ranker_provider(client)
        self.reranker = self._client = client

    def meta_info(self) -> dict[str, Any]:
        """The client's meta info."""
        return self._initialised_client().meta_info()

    def additional_properties(self) -> dict[str, AdditionalProperty]:
        """``{"rerank": …}``."""
        if self._additional_properties_provider is None:
            raise RerankerError("the module is not initialised: call init() first")
        return self._additional_properties_provider.additional_properties()

    def _initialised_client(self) -> ReRankerClient:
        if self.reranker is None:
            raise RerankerError("the module is not initialised: call init() first")
        return self.reranker

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()


def new() -> RerankerModule:
    """Go's ``New()``."""
    return RerankerModule()


# Go verifies at compile time that the module implements its capabilities
# (``var _ = modulecapabilities.Module(New())``, ``AdditionalProperties``,
# ``MetaProvider``); here mypy does, and tests/module/test_module.py at run time.
if TYPE_CHECKING:
    _capabilities: tuple[Module, AdditionalProperties, MetaProvider] = (new(), new(), new())
    _client: ReRankerClient = Client()
