"""The class configuration a module receives.

Port of entities/moduletools/config.go (``ClassConfig``). Go's ``Class()``
becomes ``class_()`` because ``class`` is a Python keyword.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ClassConfig(Protocol):
    """What Weaviate hands a module about the class being searched."""

    def target_vector(self) -> str:
        """The named vector the request targets, or ``""``."""
        ...

    def tenant(self) -> str:
        """The tenant of the request, or ``""``."""
        ...

    def class_(self) -> Mapping[str, Any]:
        """The settings under the config's own module name (Go: ``Class()``)."""
        ...

    def class_by_module_name(self, module_name: str) -> Mapping[str, Any]:
        """The settings the class stores under ``moduleConfig[module_name]``."""
        ...

    def properties_data_types(self) -> Mapping[str, str]:
        """Each property's primitive data type."""
        ...

    def config(self) -> Any:
        """Weaviate's server configuration (``None`` outside Weaviate)."""
        ...

    def property(self, prop_name: str) -> Mapping[str, Any]:
        """The module settings of one property."""
        ...
