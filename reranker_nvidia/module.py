"""The ``reranker-nvidia`` module.

Port of modules/reranker-nvidia/module.go (``RerankerModule``). ``init``
reads ``NVIDIA_APIKEY`` once, takes the client timeout from the server config
(``MODULES_CLIENT_TIMEOUT``, default 50 s), and builds the client and the
``rerank`` additional property.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .class_configurator import ClassConfigurator
from .clients.ranker import API_KEY_ENV, Client
from .config.class_settings import NAME
from .entities.modulecapabilities.additional import AdditionalProperty
from .entities.modulecapabilities.module import ModuleType
from .errors import RerankerError
from .modulecomponents.additional.provider_ranker import (
    GraphQLAdditionalRankerProvider,
    new_ranker_provider,
)
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


class RerankerModule(ClassConfigurator):
    """Go's ``RerankerModule``: name, type, init, meta info, additional properties."""

    def __init__(self) -> None:
        self.reranker: Client | None = None
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
        api_key = env.get(API_KEY_ENV, "")
        client = Client(
            api_key,
            params.config.module_http_client_timeout,
            transport=params.transport,
            resolver=params.resolver,
        )
        self._additional_properties_provider = new_ranker_provider(client)
        self.reranker = client

    def meta_info(self) -> dict[str, Any]:
        """The client's meta info."""
        return self._initialised_client().meta_info()

    def additional_properties(self) -> dict[str, AdditionalProperty]:
        """``{"rerank": …}``."""
        if self._additional_properties_provider is None:
            raise RerankerError("the module is not initialised: call init() first")
        return self._additional_properties_provider.additional_properties()

    def _initialised_client(self) -> Client:
        if self.reranker is None:
            raise RerankerError("the module is not initialised: call init() first")
        return self.reranker

    def close(self) -> None:
        """Close the client's connections."""
        if self.reranker is not None:
            self.reranker.close()


def new() -> RerankerModule:
    """Go's ``New()``."""
    return RerankerModule()
