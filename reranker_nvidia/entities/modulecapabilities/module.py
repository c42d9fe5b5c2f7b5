"""Module types, and what every module and a meta provider offer.

Port of entities/modulecapabilities/module.go (``ModuleType``, the reranker's
constant ``Text2TextReranker``, the ``Module`` and ``MetaProvider`` interfaces,
as far as a reranker implements them).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class ModuleType(StrEnum):
    """The kind of a Weaviate module; the values are Go's strings."""

    TEXT2TEXT_RERANKER = "Text2TextReranker"


@runtime_checkable
class Module(Protocol):
    """Go's ``Module``: a name, a type, and ``Init``."""

    def name(self) -> str: ...

    def type(self) -> ModuleType: ...

    def init(self, params: Any = None) -> None: ...


@runtime_checkable
class MetaProvider(Protocol):
    """Go's ``MetaProvider``: what ``GET /v1/meta`` shows for the module."""

    def meta_info(self) -> dict[str, Any]: ...
