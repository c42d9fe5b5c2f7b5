"""How a module declares an additional property.

Port of entities/modulecapabilities/additional.go (``AdditionalProperty``,
``AdditionalSearch`` and the function types).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..._gostd.context import HeaderSource
from ..moduletools.config import ClassConfig
from ..search.result import SearchResult


class AdditionalPropertyFn(Protocol):
    """Go's ``AdditionalPropertyFn``; Go's ``ctx`` carries request headers, here ``headers``."""

    def __call__(
        self,
        in_: Sequence[SearchResult],
        params: Any,
        limit: int | None,
        argument_module_params: Mapping[str, Any] | None,
        cfg: ClassConfig | None,
        *,
        headers: HeaderSource = None,
    ) -> list[SearchResult]: ...


GraphQLFieldFn = Callable[[str], Any]
"""``classname -> graphql.GraphQLField``."""

ExtractAdditionalFn = Callable[[Sequence[Any], Any], Any]
"""``(argument nodes, class) -> params``."""


@dataclass(frozen=True, slots=True)
class AdditionalSearch:
    """The search functions of an additional property, one per kind of query."""

    object_get: AdditionalPropertyFn | None = None
    object_list: AdditionalPropertyFn | None = None
    explore_get: AdditionalPropertyFn | None = None
    explore_list: AdditionalPropertyFn | None = None


@dataclass(frozen=True, slots=True)
class AdditionalProperty:
    """One additional property (``_additional { … }``) a module provides."""

    rest_names: tuple[str, ...] = ()
    default_value: Any = None
    graphql_names: tuple[str, ...] = ()
    graphql_field_function: GraphQLFieldFn | None = None
    graphql_extract_function: ExtractAdditionalFn | None = None
    search_functions: AdditionalSearch = field(default_factory=AdditionalSearch)


@runtime_checkable
class AdditionalProperties(Protocol):
    """Go's ``AdditionalProperties``: the additional properties a module provides."""

    def additional_properties(self) -> dict[str, AdditionalProperty]: ...
