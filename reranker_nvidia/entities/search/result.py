"""A search result, as the ``rerank`` additional property reads and writes it.

Port of entities/search/result.go (``Result``, ``Result.Object``), reduced to
the fields a reranker touches, plus the JSON shape the command line reads: a
Weaviate GraphQL ``Get`` object, its properties at the top level and its
``_additional`` object beside them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ADDITIONAL_KEY = "_additional"


class _WithoutID(Mapping[str, Any]):
    """A read-only view of a property map with the key ``id`` hidden."""

    __slots__ = ("_schema",)

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._schema = schema

    def __getitem__(self, key: str) -> Any:
        if key == "id":
            raise KeyError(key)
        return self._schema[key]

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._schema if key != "id")

    def __len__(self) -> int:
        return len(self._schema) - (1 if "id" in self._schema else 0)


@dataclass(slots=True)
class Object:
    """What Go's ``Result.Object()`` returns, reduced to what a reranker reads."""

    class_name: str
    id: str
    properties: Mapping[str, Any]
    additional: dict[str, Any] | None


@dataclass(slots=True)
class SearchResult:
    """One search result: its properties (Go: ``Schema``) and ``_additional`` values."""

    schema: Mapping[str, Any] | None = None
    additional_properties: dict[str, Any] | None = None
    id: str = ""
    class_name: str = ""

    def object(self) -> Object:
        """The result as an object. As in Go, the properties lack the key ``id``.

        Go's ``Object()`` deletes ``id`` from the caller's map; this view only
        hides it (docs/divergences.md, D-RANK-ID).
        """
        schema: Mapping[str, Any] = self.schema if isinstance(self.schema, Mapping) else {}
        return Object(
            class_name=self.class_name,
            id=self.id,
            properties=_WithoutID(schema),
            additional=self.additional_properties,
        )

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SearchResult:
        """Read a GraphQL-style object: properties plus an optional ``_additional`` object.

        Raises ``TypeError`` when ``_additional`` is present but not an object.
        """
        additional = value.get(ADDITIONAL_KEY)
        if additional is not None and not isinstance(additional, Mapping):
            raise TypeError(f"{ADDITIONAL_KEY} must be an object, not {_json_type(additional)}")
        schema = {key: item for key, item in value.items() if key != ADDITIONAL_KEY}
        identifier = additional.get("id", "") if additional else ""
        return cls(
            schema=schema,
            additional_properties=dict(additional) if additional is not None else None,
            id=identifier if isinstance(identifier, str) else "",
        )

    def to_json(self) -> dict[str, Any]:
        """The object again, with ``_additional`` holding every additional property."""
        out: dict[str, Any] = dict(self.schema) if isinstance(self.schema, Mapping) else {}
        if self.additional_properties is not None:
            out[ADDITIONAL_KEY] = {
                key: _jsonable(item) for key, item in self.additional_properties.items()
            }
        return out


def _jsonable(value: Any) -> Any:
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
