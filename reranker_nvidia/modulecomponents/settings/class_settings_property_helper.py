"""How a module setting is read from a class's ``moduleConfig``.

Port of usecases/modulecomponents/settings/class_settings_property_helper.go,
the parts the reranker uses: ``GetPropertyAsString``,
``GetPropertyAsStringWithNotExists``, ``GetSettings`` and ``ValidateBaseURL``.
The number, bool and list getters serve other modules and are not ported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...entities.moduletools.config import ClassConfig
from ..validate_baseurl import Resolver, validate_base_url


class PropertyValuesHelper:
    """Reads one module's settings (Go: ``classPropertyValuesHelper``)."""

    __slots__ = ("_alt_names", "_module_name")

    def __init__(self, module_name: str, alt_names: Sequence[str] = ()) -> None:
        self._module_name = module_name
        self._alt_names = tuple(alt_names)

    def get_property_as_string(self, cfg: ClassConfig | None, name: str, default: str) -> str:
        """The setting ``name`` if it is a string (``""`` included), else ``default``."""
        return self.get_property_as_string_with_not_exists(cfg, name, default, default)

    def get_property_as_string_with_not_exists(
        self, cfg: ClassConfig | None, name: str, default: str, not_exists: str
    ) -> str:
        """Go's type switch: no config or null → ``not_exists``; a string → it; else ``default``."""
        if cfg is None:
            # Weaviate passes no config on cross-class requests such as Explore{}.
            return not_exists
        value = self.get_settings(cfg).get(name)
        if value is None:
            return not_exists
        if isinstance(value, str):
            return value
        return default

    def get_settings(self, cfg: ClassConfig) -> Mapping[str, Any]:
        """The module's own settings if non-empty, then an alternative name's, then ``Class()``."""
        if self._module_name:
            settings = cfg.class_by_module_name(self._module_name)
            if settings:
                return settings
            for alt_name in self._alt_names:
                settings = cfg.class_by_module_name(alt_name)
                if settings:
                    return settings
        return cfg.class_()

    def validate_base_url(self, base_url: str, *, resolver: Resolver | None = None) -> None:
        """Go's ``ValidateBaseURL``: SSRF checks when ``MODULES_VALIDATE_BASE_URL`` is on."""
        validate_base_url(base_url, resolver=resolver)
