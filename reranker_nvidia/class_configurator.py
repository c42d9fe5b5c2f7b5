"""The module's class configuration hooks.

Port of modules/reranker-nvidia/config.go (the ``ClassConfigurator``
capability). It takes another name because ``config/`` is the settings
package, as in Go.
"""

from __future__ import annotations

from typing import Any

from .entities.moduletools.config import ClassConfig


class ClassConfigurator:
    """Defaults and validation for a class that uses the reranker: none at all."""

    def class_config_defaults(self) -> dict[str, Any]:
        """``{}``: nothing is written into a new class's module config."""
        return {}

    def property_config_defaults(self, data_type: Any = None) -> dict[str, Any]:
        """``{}`` for every data type."""
        del data_type
        return {}

    def validate_class(self, class_def: Any, cfg: ClassConfig | None = None) -> None:
        """Accepts every class (Go returns nil)."""
        del class_def, cfg
