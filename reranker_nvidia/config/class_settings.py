"""The class settings of the NVIDIA reranker: ``model`` and ``baseURL``.

Port of modules/reranker-nvidia/config/class_settings.go. Settings are read
from ``moduleConfig["reranker-nvidia"]`` (falling back to ``Class()``), with
Go's type switch: a missing or null value, any non-string value, or no config
at all gives the default; any string, ``""`` included, is used as given.
"""

from __future__ import annotations

from typing import Any

from ..entities.moduletools.config import ClassConfig
from ..modulecomponents.settings.class_settings_property_helper import (
    PropertyValuesHelper,
)
from ..modulecomponents.validate_baseurl import Resolver
from ..usecases.modules._settings_check import register_module_settings

NAME = "reranker-nvidia"
"""The module's name (Go: module.go's ``Name``, which module.py returns).

Defined here, the lowest layer that needs it, because module.py imports this
one; Go, under the same constraint, writes the literal here a second time.
"""

DEFAULT_BASE_URL = "https://ai.api.nvidia.com"
DEFAULT_NVIDIA_MODEL = "nvidia/rerank-qa-mistral-4b"

# Python only: the keys read below, so that for_settings can tell a typo (``baseUrl``).
register_module_settings(NAME, ("baseURL", "model"))


class ClassSettings:
    """Go's ``classSettings``, built by ``NewClassSettings(cfg)``."""

    __slots__ = ("_cfg", "_property_values_helper")

    def __init__(self, cfg: ClassConfig | None) -> None:
        self._cfg = cfg
        self._property_values_helper = PropertyValuesHelper(NAME)

    def base_url(self) -> str:
        """``baseURL``, default ``https://ai.api.nvidia.com``."""
        return self._property_values_helper.get_property_as_string(
            self._cfg, "baseURL", DEFAULT_BASE_URL
        )

    def model(self) -> str:
        """``model``, default ``nvidia/rerank-qa-mistral-4b``."""
        return self._property_values_helper.get_property_as_string(
            self._cfg, "model", DEFAULT_NVIDIA_MODEL
        )

    def validate(self, class_def: Any = None, *, resolver: Resolver | None = None) -> None:
        """Check the base URL (the only check; nothing in Weaviate calls it)."""
        del class_def  # Go's signature takes the class; it is not read.
        self._property_values_helper.validate_base_url(self.base_url(), resolver=resolver)
