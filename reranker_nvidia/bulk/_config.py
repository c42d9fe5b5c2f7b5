"""``ClientConfig``: a small picklable recipe for a client, for bulk runs and their workers."""

from __future__ import annotations

from typing import Any

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, ClassConfig, Client, ConfigError
from reranker_nvidia.extensions.pickling import SealedKey
from reranker_nvidia.extensions.settings import SETTINGS, checked_class_settings, setting

_OWN = ("api_key", "timeout")
"""What is not a row of the settings table: the key and the timeout."""


class ClientConfig:
    """What a bulk run needs to build its client, in any process (D-EXT-PICKLE).

    ``api_key`` and ``timeout`` are the client's. Every other keyword is a
    setting of the table (``reranker_nvidia.extensions.settings.SETTINGS``:
    ``base_url`` and ``model``, the class settings ``baseURL`` and ``model``
    (``None``: the module's defaults, NVIDIA's public API), ``max_documents``,
    ``retries``, ``requests_per_minute``, …), read as an attribute.
    ``api_key=None`` reads ``NVIDIA_APIKEY`` where the client is built, so a
    pickled config carries no key; an explicit key travels masked, not
    encrypted (docs/bulk.md). Frozen: :meth:`replace` makes a changed copy.
    """

    __slots__ = ("_values",)

    def __init__(
        self,
        api_key: str | None = None,
        *,
        timeout: float | None = None,
        **settings: Any,
    ) -> None:
        if api_key is not None and not isinstance(api_key, str):  # as Client(api_key=…) says
            raise TypeError(f"api_key must be a str or None, not {type(api_key).__name__}")
        values: dict[str, Any] = {"api_key": api_key, "timeout": timeout}
        for row in SETTINGS:
            values[row.name] = settings.pop(row.name, row.default)
        if settings:
            name = next(iter(settings))
            raise TypeError(f"ClientConfig() got an unexpected keyword argument {name!r}")
        object.__setattr__(self, "_values", values)
        checked_class_settings(self.class_config())  # a bad setting is a ConfigError now

    def __getattr__(self, name: str) -> Any:
        try:
            return object.__getattribute__(self, "_values")[name]
        except KeyError:
            raise AttributeError(f"'ClientConfig' object has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ClientConfig is frozen: use replace({name}=…)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClientConfig) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if k != "api_key")
        return f"ClientConfig({shown})"

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        values = dict(self._values)
        key = values.pop("api_key")
        return _rebuild_config, (values, None if key is None else SealedKey(key))

    def replace(self, **changes: Any) -> ClientConfig:
        """A copy with ``changes``."""
        return ClientConfig(**{**self._values, **changes})

    def class_config(self) -> ClassConfig | None:
        """The class settings every request of the run is made with.

        The table's settings travel as their class settings, which win over the
        client's own; only those not at their default (Go's behaviour) are set.
        """
        settings: dict[str, object] = {}
        for row in SETTINGS:
            if not row.client_field:
                value = self._values[row.name]
                settings[row.key] = None if value == row.default else value
        given = {k: v for k, v in settings.items() if v is not None}
        return ClassBasedModuleConfig.for_settings(given) if given else None

    def share(self, parts: int) -> ClientConfig:
        """This config with ``1/parts`` of the requests-per-minute budget (one Ray actor's)."""
        if parts < 1:
            raise ConfigError(f"the rpm budget must be shared by at least 1 part, not {parts}")
        rpm = self._values["requests_per_minute"]
        if rpm is None:
            return self
        return self.replace(requests_per_minute=rpm / parts)

    def client(self) -> Client:
        """A new :class:`Client`; its pool opens on its first request."""
        return Client(**self._client_kwargs())

    def async_client(self) -> AsyncClient:
        """A new :class:`AsyncClient`."""
        return AsyncClient(**self._client_kwargs())

    def _client_kwargs(self) -> dict[str, Any]:
        own = {"api_key": self.api_key, "timeout": self.timeout}
        fields = {row.name: self._values[row.name] for row in SETTINGS if row.client_field}
        fields["max_documents"] = fields["max_documents"] or setting("max_documents").default
        return {**own, **fields}


def _rebuild_config(values: dict[str, Any], key: SealedKey | None) -> ClientConfig:
    return ClientConfig(api_key=None if key is None else key.open(), **values)
