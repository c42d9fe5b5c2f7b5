"""The ``ClassConfig`` Weaviate builds from a class definition.

Port of usecases/modules/module_config.go (``ClassBasedModuleConfig``). The
class definition is the JSON of ``GET /v1/schema/{class}``. Weaviate builds
the config it gives additional properties with an empty module name
(usecases/modules/modules.go), which is why settings are read through
``class_by_module_name("reranker-nvidia")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload

from ._settings_check import (
    default_module_name,
)
from ._settings_check import (
    warn_unread_settings as warn_unread_settings,  # noqa: PLC0414 - the weaviate helper's
)

_PRIMITIVE_TYPES = frozenset(
    {
        "text",
        "text[]",
        "int",
        "int[]",
        "number",
        "number[]",
        "boolean",
        "boolean[]",
        "date",
        "date[]",
        "uuid",
        "uuid[]",
        "geoCoordinates",
        "phoneNumber",
        "blob",
        "object",
        "object[]",
        "string",
        "string[]",
    }
)


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class ClassBasedModuleConfig:
    """A :class:`~reranker_nvidia.entities.moduletools.ClassConfig` over a class definition."""

    __slots__ = ("_cfg", "_class", "_module_name", "_target_vector", "_tenant")

    def __init__(
        self,
        class_def: Mapping[str, Any] | None,
        module_name: str = "",
        tenant: str = "",
        target_vector: str = "",
        cfg: Any = None,
    ) -> None:
        self._class: Mapping[str, Any] = class_def if class_def is not None else {}
        self._module_name = module_name
        self._tenant = tenant
        self._target_vector = target_vector
        self._cfg = cfg

    @overload
    @classmethod
    def for_settings(cls, settings: Mapping[str, Any], /) -> ClassBasedModuleConfig: ...

    @overload
    @classmethod
    def for_settings(
        cls, module_name: str, settings: Mapping[str, Any], /
    ) -> ClassBasedModuleConfig: ...

    @classmethod
    def for_settings(
        cls, first: str | Mapping[str, Any], second: Mapping[str, Any] | None = None, /
    ) -> ClassBasedModuleConfig:
        """A config whose class stores ``settings`` under ``moduleConfig[module_name]``.

        ``for_settings(settings)`` stores them under the module's own name,
        ``reranker-nvidia`` (which config/class_settings.py registers);
        ``for_settings(module_name, settings)`` under the
        name given. A setting the module does not read (``baseUrl`` for
        ``baseURL``), or a module name other than its own, raises a
        :class:`~reranker_nvidia.errors.SettingsWarning` naming the nearest known
        one; what is sent stays Go's (the defaults, for what is not read).
        """
        if second is None:
            if isinstance(first, str):
                raise TypeError("for_settings(settings) needs the settings, a mapping")
            module_name, settings = default_module_name(), first
        else:
            if not isinstance(first, str):
                raise TypeError(f"module_name must be a str, not {type(first).__name__}")
            module_name, settings = first, second
        if not isinstance(settings, Mapping):
            raise TypeError(f"settings must be a mapping, not {type(settings).__name__}")
        warn_unread_settings(module_name, settings, stacklevel=2)
        return cls({"moduleConfig": {module_name: dict(settings)}})

    def __repr__(self) -> str:
        name = self._class.get("class", "")
        return f"ClassBasedModuleConfig(class={name!r}, module_name={self._module_name!r})"

    def class_(self) -> Mapping[str, Any]:
        return self.class_by_module_name(self._module_name)

    def tenant(self) -> str:
        return self._tenant

    def target_vector(self) -> str:
        return self._target_vector

    def properties_data_types(self) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for prop in self._class.get("properties") or ():
            data_type = _as_map(prop).get("dataType")
            if isinstance(data_type, list) and data_type and data_type[0] in _PRIMITIVE_TYPES:
                out[str(prop["name"])] = data_type[0]
        return out

    def class_by_module_name(self, module_name: str) -> Mapping[str, Any]:
        module_config = _as_map(self._get_module_config())
        return _as_map(module_config.get(module_name))

    def _get_module_config(self) -> Any:
        if self._target_vector:
            vector_config = _as_map(self._class.get("vectorConfig")).get(self._target_vector)
            if vector_config is None:
                return None
            return _as_map(vector_config).get("vectorizer")
        return self._class.get("moduleConfig")

    def config(self) -> Any:
        return self._cfg

    def property(self, prop_name: str) -> Mapping[str, Any]:
        # As Go's schema.GetPropertyByName: only the part before the first dot counts.
        wanted = prop_name.split(".", 1)[0]
        for prop in self._class.get("properties") or ():
            prop_map = _as_map(prop)
            if prop_map.get("name") == wanted:
                module_config = _as_map(prop_map.get("moduleConfig"))
                return _as_map(module_config.get(self._module_name))
        return {}
