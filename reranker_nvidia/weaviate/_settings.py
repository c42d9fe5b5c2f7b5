"""Where the class settings and the request headers of a client-side rerank come from.

Settings, lowest precedence first: ``config`` (the collection's
``collection.config.get()`` or its ``.reranker_config``, weaviate-client's
``Configure.Reranker.nvidia(...)``, a :class:`ClassConfig` such as
``ClassBasedModuleConfig``, or a mapping of settings), then ``model=`` and
``base_url=``, then any further setting given by keyword (``truncate="END"``
or ``requestsPerMinute=60``; snake_case names are written in camelCase).

Headers are what Weaviate would see on the request: a connected
weaviate-client's own ``additional_headers`` (``client=``), then ``headers=``
over them, name by name in any letter case. As in Weaviate, ``X-Nvidia-Api-Key``
wins over the key of the environment and ``X-Nvidia-Baseurl`` over ``baseURL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reranker_nvidia import NAME, ClassBasedModuleConfig, ClassConfig, ConfigError
from reranker_nvidia.modulecomponents.settings.class_settings_property_helper import (
    PropertyValuesHelper,
)
from reranker_nvidia.usecases.modules.module_config import warn_unread_settings

_HEADER_VALUE = str | Sequence[str]


def class_config(
    config: object,
    *,
    model: str | None,
    base_url: str | None,
    settings: Mapping[str, Any],
) -> ClassConfig:
    """The :class:`ClassConfig` the rerank property is given, as Weaviate builds it."""
    overrides: dict[str, Any] = {_camel_case(key): value for key, value in settings.items()}
    if model is not None:
        overrides["model"] = model
    if base_url is not None:
        overrides["baseURL"] = base_url
    if isinstance(config, ClassConfig):
        if not overrides:
            return config
        merged = {**PropertyValuesHelper(NAME).get_settings(config), **overrides}
        return _config_of(merged, "", config.tenant())
    name, base = _settings_of(config)
    return _config_of({**base, **overrides}, name, "")


def request_headers(client: object, headers: object) -> dict[str, _HEADER_VALUE]:
    """The connected client's ``additional_headers``, then ``headers`` over them."""
    merged: dict[str, _HEADER_VALUE] = {}
    if client is not None:
        connection = getattr(client, "_connection", None)
        own = getattr(connection, "additional_headers", None)
        if not isinstance(own, Mapping):
            raise TypeError(
                "client must be a weaviate-client WeaviateClient or WeaviateAsyncClient, "
                f"not {type(client).__name__}"
            )
        _put(merged, own.items())
    if headers is not None:
        if isinstance(headers, Mapping):
            _put(merged, headers.items())
        elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
            _put(merged, headers)
        else:
            raise TypeError(
                f"headers must be a mapping or (name, value) pairs, not {type(headers).__name__}"
            )
    return merged


def _put(merged: dict[str, _HEADER_VALUE], pairs: Iterable[Any]) -> None:
    for pair in pairs:
        name, value = pair
        for existing in [key for key in merged if key.lower() == str(name).lower()]:
            del merged[existing]
        merged[str(name)] = value if isinstance(value, str) else [str(v) for v in value]


def _settings_of(config: object) -> tuple[str, Mapping[str, Any]]:
    """``(collection name, settings)`` of a weaviate-client config object or a mapping."""
    if config is None:
        return "", {}
    if isinstance(config, Mapping):
        return "", config
    if hasattr(config, "reranker_config"):  # collection.config.get()
        name = getattr(config, "name", "")
        reranker_config = config.reranker_config
        if reranker_config is None:  # no reranker configured: the module's defaults
            return str(name), {}
        return str(name), _reranker_settings(reranker_config)
    if hasattr(config, "reranker"):
        return "", _reranker_settings(config)
    raise TypeError(
        "config must be collection.config.get(), its reranker_config, "
        "Configure.Reranker.nvidia(...), a ClassConfig or a mapping of settings, "
        f"not {type(config).__name__}"
    )


def _reranker_settings(reranker_config: Any) -> Mapping[str, Any]:
    """The settings of a ``RerankerConfig`` (``.model``) or a ``Configure.Reranker`` provider."""
    reranker = getattr(reranker_config.reranker, "value", reranker_config.reranker)
    if reranker != NAME:
        raise ConfigError(f"the collection's reranker is {reranker}, not {NAME}")
    to_dict = getattr(reranker_config, "_to_dict", None)
    if callable(to_dict):  # Configure.Reranker.nvidia(model=..., base_url=...)
        created: Mapping[str, Any] = to_dict()
        return created
    model = getattr(reranker_config, "model", None)  # collection.config.get().reranker_config
    return model if isinstance(model, Mapping) else {}


def _config_of(settings: Mapping[str, Any], class_name: str, tenant: str) -> ClassConfig:
    # A SettingsWarning for a setting the module does not read (a typo, most likely), as
    # ClassBasedModuleConfig.for_settings warns, pointing at the caller of rerank.
    warn_unread_settings(NAME, settings, stacklevel=4)
    class_def = {"class": class_name, "moduleConfig": {NAME: dict(settings)}}
    return ClassBasedModuleConfig(class_def, "", tenant)


def _camel_case(key: str) -> str:
    """``requests_per_minute`` → ``requestsPerMinute``; a camelCase name is kept."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
