"""The module client timeout, read from ``MODULES_CLIENT_TIMEOUT``.

Port of the ``MODULES_CLIENT_TIMEOUT`` part of usecases/config/environment.go
and the ``ModuleHttpClientTimeout`` field of usecases/config/config_handler.go.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..._gostd.time import DurationError, parse_duration
from ...errors import ConfigError

DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT = 50.0
"""Seconds; Go's ``50 * time.Second``."""


@dataclass(frozen=True, slots=True)
class Config:
    """The slice of Weaviate's server config a module reads."""

    module_http_client_timeout: float = DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT
    """Seconds. Zero or less means no timeout, as in Go's retry transport."""


def module_http_client_timeout_from_environment(
    environ: Mapping[str, str] | None = None,
) -> float:
    """The timeout in seconds: ``MODULES_CLIENT_TIMEOUT`` as a Go duration, else 50 s.

    Raises :class:`ConfigError` with Go's text when the value does not parse.
    """
    env = os.environ if environ is None else environ
    value = env.get("MODULES_CLIENT_TIMEOUT", "")
    if value == "":
        return DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT
    try:
        return parse_duration(value)
    except DurationError as err:
        raise ConfigError(f"parse MODULES_CLIENT_TIMEOUT as time.Duration: {err}") from None
