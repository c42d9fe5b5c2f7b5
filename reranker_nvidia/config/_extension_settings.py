"""The opt-in settings of the extensions: endpoint, truncate, retries, limits, wait-ready.

Python only (config/class_settings.py stays Go's twin). Each setting is a
keyword argument of ``Client`` and ``AsyncClient`` and a camelCase class
setting in ``moduleConfig["reranker-nvidia"]``, beside ``model`` and
``baseURL``; a class setting given for a call wins over the client's keyword
argument. Every default is Go's behaviour (docs/divergences.md, "Extensions,
off by default").

Values are read with Go's type habits where they make sense: a JSON number
arrives as ``int`` or ``float`` (``3.0`` is a whole number), a bool is not a
number, and a number written as a string is refused. A JSON ``null`` is a
setting that is not there. A bad value is one :class:`ConfigError` line
naming the key, raised before any request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..entities.moduletools.config import ClassConfig
from ..errors import ConfigError
from ..modulecomponents.settings.class_settings_property_helper import (
    PropertyValuesHelper,
)
from ..usecases.modules._settings_check import register_module_settings
from .class_settings import NAME

__all__ = [
    "CLASS_SETTING_KEYS",
    "ENDPOINTS",
    "MAX_DOCUMENTS_LIMIT",
    "TRUNCATE_TYPES",
    "Extensions",
]

ENDPOINTS = ("retrieval", "model", "ranking", "rerank", "auto")
"""The ``endpoint`` values; ``retrieval`` is Go's only route."""

TRUNCATE_TYPES = ("NONE", "END")
"""The ``truncate`` values a NIM reranker takes."""

MAX_DOCUMENTS_LIMIT = 512
"""The most passages NIM takes in one request, so the most ``maxDocuments`` may be."""

CLASS_SETTING_KEYS: dict[str, str] = {
    "endpoint": "endpoint",
    "truncate": "truncate",
    "retries": "retries",
    "requests_per_minute": "requestsPerMinute",
    "max_documents": "maxDocuments",
    "max_concurrency": "maxConcurrency",
    "wait_ready": "waitReady",
}
"""Each keyword argument's class setting."""

_TRUNCATE_ERROR = f"wrong truncate type, available types are: [{' '.join(TRUNCATE_TYPES)}]"

# Python only: these keys are read, so for_settings must not call them typos.
register_module_settings(NAME, ("baseURL", "model", *CLASS_SETTING_KEYS.values()))


@dataclass(frozen=True, slots=True)
class Extensions:
    """The extensions' settings of one client, or of one call once the class settings apply."""

    endpoint: str = "retrieval"
    truncate: str | None = None
    retries: int = 0
    requests_per_minute: float | None = None
    max_documents: int = MAX_DOCUMENTS_LIMIT
    max_concurrency: int | None = None
    wait_ready: float | None = None

    @classmethod
    def checked(cls, **values: object) -> Extensions:
        """The settings given as keyword arguments, each checked; :class:`ConfigError` if bad.

        An argument that is not a setting is a ``TypeError``, as for any function.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(
                f"Extensions.checked() got an unexpected keyword argument {unknown[0]!r}"
            )
        checked = {name: _check(name, name, value, as_json=False) for name, value in values.items()}
        return cls(**checked)

    def merged(self, cfg: ClassConfig | None) -> Extensions:
        """These settings with the class settings of ``cfg`` over them (``null`` keeps ours)."""
        if cfg is None:
            return self
        settings = _HELPER.get_settings(cfg)
        if not isinstance(settings, Mapping) or not settings:
            return self
        changes: dict[str, Any] = {}
        for name, key in CLASS_SETTING_KEYS.items():
            value = settings.get(key)
            if value is not None:
                changes[name] = _check(name, key, value, as_json=True)
        return replace(self, **changes) if changes else self


_HELPER = PropertyValuesHelper(NAME)


def _check(name: str, key: str, value: object, *, as_json: bool) -> Any:
    """``value`` of the setting ``name`` (called ``key`` in the message), checked."""
    shown = _shown(value, as_json=as_json)
    match name:
        case "endpoint":
            if not isinstance(value, str) or value not in ENDPOINTS:
                raise ConfigError(f"{key} must be one of [{' '.join(ENDPOINTS)}], not {shown}")
            return value
        case "truncate":
            if value is None:
                return None
            if not isinstance(value, str) or value not in TRUNCATE_TYPES:
                raise ConfigError(_TRUNCATE_ERROR)
            return value
        case "retries":
            whole = _whole(key, value, shown)
            if whole < 0:
                raise ConfigError(f"{key} must be 0 or more, not {shown}")
            return whole
        case "max_documents":
            whole = _whole(key, value, shown)
            if whole < 1:
                raise ConfigError(f"{key} must be at least 1, not {shown}")
            if whole > MAX_DOCUMENTS_LIMIT:
                raise ConfigError(
                    f"{key} must be at most {MAX_DOCUMENTS_LIMIT} "
                    f"(the most passages NIM takes in one request), not {shown}"
                )
            return whole
        case "max_concurrency":
            if value is None:
                return None
            whole = _whole(key, value, shown)
            if whole < 1:
                raise ConfigError(f"{key} must be at least 1, not {shown}")
            return whole
        case "requests_per_minute" | "wait_ready":
            if value is None:
                return None
            number = _positive_number(value)
            if number is None:
                raise ConfigError(f"{key} must be a number greater than 0, not {shown}")
            return number
    raise AssertionError(name)  # pragma: no cover - every field is matched above


def _positive_number(value: object) -> float | None:
    """A finite ``int`` or ``float`` above 0, not a bool (``true`` is no number); else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def _whole(key: str, value: object, shown: str) -> int:
    """A whole number: an ``int``, or a ``float`` without a fraction (JSON's ``3.0``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ConfigError(f"{key} must be a whole number, not {shown}")


def _shown(value: object, *, as_json: bool) -> str:
    """A value as its writer wrote it: JSON for a class setting, Python for an argument."""
    if as_json:
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            pass
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)
