"""The one table of the client's settings: each row declares one setting, once.

Python only (config/class_settings.py stays Go's twin). A row holds a
setting's keyword argument (of ``Client``, ``AsyncClient`` and
``bulk.ClientConfig``), its class setting in ``moduleConfig["reranker-nvidia"]``,
its flag of ``reranker-nvidia rerank``, its default, its check and error
text, and its help line. Everything else derives from this table: the client
keywords and their pickling, the class settings a module reads, the command
line's flags, ``bulk.ClientConfig``, and the README's settings table (a test
compares it). Adding an extension is one module in this folder and one row here.

Every default is Go's behaviour (docs/divergences.md, "Extensions, off by
default"). A class setting given for a call wins over the client's keyword
argument. The first two rows are Go's own class settings, ``baseURL`` and
``model`` (``go_key``): Go reads them (config/class_settings.py), and the
rows add what Go lacks, the client keywords ``base_url`` and ``model``, the
defaults of calls whose class settings do not set them. Values are read with
Go's type habits where they make sense: a JSON number arrives as ``int`` or
``float`` (``3.0`` is a whole number), a bool is not a number, and a number
written as a string is refused. A JSON ``null`` is a setting that is not
there. A bad value is one :class:`ConfigError` line naming the key, raised
before any request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config.class_settings import DEFAULT_BASE_URL, DEFAULT_NVIDIA_MODEL, NAME
from ..entities.moduletools.config import ClassConfig
from ..errors import ConfigError
from ..modulecomponents.settings.class_settings_property_helper import PropertyValuesHelper
from ..usecases.modules._settings_check import register_module_settings

__all__ = [
    "CLASS_KEYS",
    "ENDPOINTS",
    "MAX_DOCUMENTS_LIMIT",
    "MIN_REQUESTS_PER_MINUTE",
    "ON_ERROR",
    "SCORE_TRANSFORMS",
    "SETTINGS",
    "TRACE_MODES",
    "TRUNCATE_TYPES",
    "Setting",
    "call_settings",
    "checked_class_settings",
    "checked_keywords",
    "class_values",
    "setting",
]

ENDPOINTS = ("retrieval", "model", "ranking", "rerank", "auto")
"""The ``endpoint`` values; ``retrieval`` is Go's only route."""

TRUNCATE_TYPES = ("NONE", "END")
"""The ``truncate`` values a NIM reranker takes."""

ON_ERROR = ("raise", "input_order")
"""The ``on_error`` values: ``raise`` is Go's; ``input_order`` fails open (D-EXT-FAIL-OPEN)."""

SCORE_TRANSFORMS = ("raw", "sigmoid", "nvidia-rag")
"""The ``score_transform`` values: ``raw`` is Go's logit; ``sigmoid`` is 1/(1+e^-x);
``nvidia-rag`` is sigmoid(0.1·x), NVIDIA RAG's mapping (D-EXT-SCORES)."""

TRACE_MODES = ("off", "on", "content")
"""The ``trace`` values: ``on`` makes OpenTelemetry spans without any text, ``content`` adds
the query and documents (D-EXT-TRACE)."""

MAX_DOCUMENTS_LIMIT = 512
"""The most passages NIM takes in one request, so the most ``maxDocuments`` may be."""

Check = Callable[[str, object, str], Any]
"""``check(key, value, shown)``: the value, or a :class:`ConfigError` naming ``key``."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One row: a setting beyond Go's, as every surface names it."""

    name: str
    """The keyword argument of ``Client``/``AsyncClient``, and the field of ``ClientConfig``."""
    key: str
    """The class setting in ``moduleConfig["reranker-nvidia"]``."""
    flag: str
    """The flag of ``reranker-nvidia rerank`` (and ``bulk``)."""
    metavar: str
    cli_type: str
    """How the command line reads the flag: ``text``, ``whole``, ``at-least-1``, ``per-request``,
    ``positive``, ``number`` or ``flag`` (no value; cli/rerank.py holds the parsers)."""
    default: Any
    check: Check
    values: str
    """The README table's "values (default)" cell."""
    help: str
    """The flag's help line."""
    divergence: str
    """Its entry in docs/divergences.md."""
    client_field: bool = False
    """A field of Go's client (``maxDocuments``, the CPU count): an argument of ``New``."""
    go_key: bool = False
    """Go's own class setting (``baseURL``, ``model``), read by config/class_settings.py with
    Go's type habits; the row adds the client keyword, a default for calls whose class
    settings do not set it (D-EXT-CLIENT-DEFAULTS)."""


def _one_of(values: tuple[str, ...], error: str | None = None) -> Check:
    def check(key: str, value: object, shown: str) -> Any:
        if value is None and error is not None:
            return None
        if not isinstance(value, str) or value not in values:
            raise ConfigError(error or f"{key} must be one of [{' '.join(values)}], not {shown}")
        return value

    return check


def _whole(lowest: int, highest: int | None = None, *, optional: bool = False) -> Check:
    def check(key: str, value: object, shown: str) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{key} must be a whole number, not {shown}")
        if value < lowest:
            bound = "0 or more" if lowest == 0 else f"at least {lowest}"
            raise ConfigError(f"{key} must be {bound}, not {shown}")
        if highest is not None and value > highest:
            raise ConfigError(
                f"{key} must be at most {highest} "
                f"(the most passages NIM takes in one request), not {shown}"
            )
        return value

    return check


def _text(key: str, value: object, shown: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, not {shown}")
    return value


def _positive(key: str, value: object, shown: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        number = math.nan
    else:
        number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(f"{key} must be a number greater than 0, not {shown}")
    return number


def _number(key: str, value: object, shown: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, not {shown}")
    return float(value)


def _flag(key: str, value: object, shown: str) -> Any:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, not {shown}")
    return value


def _cache(key: str, value: object, shown: str) -> Any:
    """A cache's spec (``memory``, ``memory:N``, ``sqlite:PATH``), or, from Python, a store
    with ``get`` and ``put`` (D-EXT-CACHE); ``extensions/cache.py`` reads the spec."""
    if value is None or (hasattr(value, "get") and hasattr(value, "put")):
        return value
    if isinstance(value, str):
        kind, _, rest = value.partition(":")
        if (kind == "memory" and (not rest or (rest.isdigit() and int(rest) >= 1))) or (
            kind == "sqlite" and rest
        ):
            return value
    raise ConfigError(f"{key} must be memory, memory:N (N ≥ 1) or sqlite:PATH, not {shown}")


MIN_REQUESTS_PER_MINUTE = 0.001
"""The smallest ``requestsPerMinute``: one start in 1000 minutes (D-EXT-RPM). A smaller rate
means waits the OS cannot sleep (``60/1e-300`` s) and no caller could mean."""


def _rate(key: str, value: object, shown: str) -> Any:
    rate = _positive(key, value, shown)
    if rate is not None and rate < MIN_REQUESTS_PER_MINUTE:
        raise ConfigError(
            f"{key} must be at least {MIN_REQUESTS_PER_MINUTE:g} (one request in "
            f"{1 / MIN_REQUESTS_PER_MINUTE:g} minutes), not {shown}"
        )
    return rate


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "base_url", "baseURL", "--base-url", "URL", "text", None, _text,
        f"URL (`{DEFAULT_BASE_URL}`, NVIDIA's public API)",
        f"the base URL (default {DEFAULT_BASE_URL}, NVIDIA's public API)",
        "D-EXT-CLIENT-DEFAULTS",
        go_key=True,
    ),
    Setting(
        "model", "model", "--model", "M", "text", None, _text,
        f"model name (`{DEFAULT_NVIDIA_MODEL}`)",
        f"the reranking model (default {DEFAULT_NVIDIA_MODEL})",
        "D-EXT-CLIENT-DEFAULTS",
        go_key=True,
    ),
    Setting(
        "endpoint", "endpoint", "--endpoint", "E", "text", "retrieval", _one_of(ENDPOINTS),
        "`retrieval` (Go's), `model`, `ranking`, `rerank`, `auto`",
        "which route and body: retrieval (default, Go's), model, ranking (self-hosted NIM), "
        "rerank, auto",
        "D-EXT-ENDPOINT",
    ),
    Setting(
        "truncate", "truncate", "--truncate", "NONE|END", "text", None,
        _one_of(
            TRUNCATE_TYPES,
            f"wrong truncate type, available types are: [{' '.join(TRUNCATE_TYPES)}]",
        ),
        "`NONE`, `END` (not sent)",
        "how NIM cuts a passage past its token limit (off by default: not sent)",
        "D-EXT-TRUNCATE",
    ),
    Setting(
        "retries", "retries", "--retries", "N", "whole", 0, _whole(0),
        "whole number ≥ 0 (0)",
        "retry 429/5xx and broken connections N times (off by default: 0)",
        "D-EXT-RETRIES",
    ),
    Setting(
        "requests_per_minute", "requestsPerMinute", "--rpm", "N", "positive", None, _rate,
        "number ≥ 0.001 (no limit)",
        "at most N request starts a minute (off by default)",
        "D-EXT-RPM",
    ),
    Setting(
        "max_documents", "maxDocuments", "--max-documents", "N", "per-request", 512,
        _whole(1, MAX_DOCUMENTS_LIMIT),
        "1–512 (512)",
        f"passages per request, 1-{MAX_DOCUMENTS_LIMIT} (default 512, Weaviate's)",
        "D-EXT-LIMITS",
        client_field=True,
    ),
    Setting(
        "max_concurrency", "maxConcurrency", "--max-concurrency", "N", "at-least-1", None,
        _whole(1, optional=True),
        "≥ 1 (the CPU count)",
        "requests in flight at once (default: the number of CPUs, as Weaviate)",
        "D-EXT-LIMITS",
        client_field=True,
    ),
    Setting(
        "wait_ready", "waitReady", "--wait-ready", "SECONDS", "positive", None, _positive,
        "seconds > 0 (no wait)",
        "wait for GET /v1/health/ready before the first request (off by default)",
        "D-EXT-WAIT-READY",
    ),
    Setting(
        "on_error", "onError", "--on-error", "raise|input_order", "text", "raise",
        _one_of(ON_ERROR),
        "`raise` (Go's), `input_order`",
        "on a reranker error: raise (default, Go's), or input_order: the documents in their "
        "input order, not reranked, no scores, and a warning",
        "D-EXT-FAIL-OPEN",
    ),
    Setting(
        "score_transform", "scoreTransform", "--score-transform", "T", "text", "raw",
        _one_of(SCORE_TRANSFORMS),
        "`raw` (Go's logits), `sigmoid`, `nvidia-rag`",
        "the scores' scale: raw (default, the model's logits; the rerank endpoint's 0-1), "
        "sigmoid (1/(1+e^-x)), nvidia-rag (sigmoid(0.1x), NVIDIA RAG's)",
        "D-EXT-SCORES",
    ),
    Setting(
        "min_score", "minScore", "--min-score", "X", "number", None, _number,
        "number (keep every one)",
        "drop documents scoring below X on the transformed scale, after the sort (off by "
        "default)",
        "D-EXT-SCORES",
    ),
    Setting(
        "usage", "usage", "--usage", "", "flag", False, _flag,
        "`true`, `false` (`false`)",
        "report what the call cost: requests, chunks, passages, cache hits, NIM's tokens "
        "(off by default)",
        "D-EXT-USAGE",
    ),
    Setting(
        "trace", "trace", "--trace", "off|on|content", "text", "off", _one_of(TRACE_MODES),
        "`off`, `on`, `content` (`off`)",
        "OpenTelemetry spans per call and chunk (the otel extra); content adds the texts "
        "(off by default)",
        "D-EXT-TRACE",
    ),
    Setting(
        "cache", "cache", "--cache", "SPEC", "text", None, _cache,
        "`memory`, `memory:N`, `sqlite:PATH` (none)",
        "reuse a chunk's scores: memory (an LRU of 10000 chunks), memory:N, or sqlite:PATH "
        "(kept on disk; off by default)",
        "D-EXT-CACHE",
    ),
)  # fmt: skip
"""Every setting, in the README's order: Go's two (as client keywords), then those beyond Go's."""

_BY_NAME = {row.name: row for row in SETTINGS}

CLASS_KEYS: tuple[str, ...] = tuple(row.key for row in SETTINGS if not row.go_key)
"""The class settings the table adds to Go's ``baseURL`` and ``model``: the extensions'."""

# These keys are read, so ClassBasedModuleConfig.for_settings must not call them typos.
register_module_settings(NAME, tuple(row.key for row in SETTINGS))

_HELPER = PropertyValuesHelper(NAME)


def setting(name: str) -> Setting:
    """The row of the keyword argument ``name``."""
    return _BY_NAME[name]


def checked_keywords(given: Mapping[str, object], owner: str = "Client") -> dict[str, Any]:
    """A client's extension keywords, checked; those at their default (Go's) left out.

    A keyword the table does not declare is a ``TypeError``, as for any function.
    """
    out: dict[str, Any] = {}
    for name, value in given.items():
        row = _BY_NAME.get(name)
        if row is None or row.client_field:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
        checked = row.check(name, value, _shown(value, as_json=False))
        if checked != row.default:
            out[name] = checked
    return out


def class_values(cfg: ClassConfig | None) -> dict[str, Any]:
    """The settings ``cfg`` gives this module, checked, by keyword name (``null``: not given)."""
    if cfg is None:
        return {}
    settings = _HELPER.get_settings(cfg)
    if not isinstance(settings, Mapping) or not settings:
        return {}
    out: dict[str, Any] = {}
    for row in SETTINGS:
        value = settings.get(row.key)
        if value is not None and not row.go_key:  # Go's own are read by Go's ClassSettings
            out[row.name] = row.check(row.key, value, _shown(value, as_json=True))
    return out


def checked_class_settings(cfg: ClassConfig | None) -> None:
    """Refuse a bad class setting now (:class:`ConfigError`), before anything is read or sent."""
    class_values(cfg)


def call_settings(own: Mapping[str, Any], cfg: ClassConfig | None) -> dict[str, Any]:
    """Every setting for one call: the defaults, a client's own, then the class settings."""
    values = {row.name: row.default for row in SETTINGS}
    values.update(own)
    values.update(class_values(cfg))
    return values


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
