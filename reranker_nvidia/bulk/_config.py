"""``ClientConfig``: a small picklable recipe for a client, for bulk runs and their workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from reranker_nvidia.clients._ranker_pickle import SealedKey
from reranker_nvidia.clients.ranker import MAX_DOCUMENTS, AsyncClient, Client
from reranker_nvidia.config._extension_settings import CLASS_SETTING_KEYS, Extensions
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.errors import ConfigError
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig

_EXTENSION_DEFAULTS: dict[str, object] = {
    "retries": 0,
    "requests_per_minute": None,
    "endpoint": "retrieval",
    "truncate": None,
    "wait_ready": None,
}


@dataclass(frozen=True)
class ClientConfig:
    """What a bulk run needs to build its client, in any process (D-EXT-PICKLE).

    ``base_url`` and ``model`` are the class settings ``baseURL`` and ``model``
    (``None``: the module's defaults). The other fields are the keyword
    arguments of :class:`~reranker_nvidia.Client`. ``api_key=None`` reads
    ``NVIDIA_APIKEY`` where the client is built, so a pickled config carries no
    key; an explicit key travels masked, not encrypted (docs/bulk.md).
    """

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    model: str | None = None
    timeout: float | None = None
    max_documents: int = MAX_DOCUMENTS
    max_concurrency: int | None = None
    retries: int = 0
    requests_per_minute: float | None = None
    endpoint: str = "retrieval"
    truncate: str | None = None
    wait_ready: float | None = None

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        values = asdict(self)
        key = values.pop("api_key")
        return _rebuild_config, (values, None if key is None else SealedKey(key))

    def __post_init__(self) -> None:
        Extensions().merged(self.class_config())  # a bad setting is a ConfigError now

    def class_config(self) -> ClassConfig | None:
        """The class settings every request of the run is made with.

        The extensions (``retries``, ``requests_per_minute``, …) travel as their
        class settings, which win over the client's own; only those not at
        their default (Go's behaviour) are set.
        """
        settings: dict[str, object] = {"baseURL": self.base_url, "model": self.model}
        for name, default in _EXTENSION_DEFAULTS.items():
            value = getattr(self, name)
            settings[CLASS_SETTING_KEYS[name]] = None if value == default else value
        given = {k: v for k, v in settings.items() if v is not None}
        return ClassBasedModuleConfig.for_settings(given) if given else None

    def share(self, parts: int) -> ClientConfig:
        """This config with ``1/parts`` of the requests-per-minute budget (one Ray actor's)."""
        if parts < 1:
            raise ConfigError(f"the rpm budget must be shared by at least 1 part, not {parts}")
        if self.requests_per_minute is None:
            return self
        return replace(self, requests_per_minute=self.requests_per_minute / parts)

    def client(self) -> Client:
        """A new :class:`Client`; its pool opens on its first request."""
        return Client(**self._client_kwargs())

    def async_client(self) -> AsyncClient:
        """A new :class:`AsyncClient`."""
        return AsyncClient(**self._client_kwargs())

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "timeout": self.timeout,
            "max_documents": self.max_documents,
            "max_concurrency": self.max_concurrency,
        }


def _rebuild_config(values: dict[str, Any], key: SealedKey | None) -> ClientConfig:
    return ClientConfig(api_key=None if key is None else key.open(), **values)
