"""What the client returned, read as the search results Weaviate's ``rerank`` property sees.

Each shape becomes batches of :class:`SearchResult` (new ones: the port's
provider writes its scores into them, never into the caller's objects) and
the function that builds the new result from each batch's order:

* ``QueryReturn`` / ``GenerativeReturn``, or a list of v4 ``Object``s: one
  result per object, its ``properties`` as the schema;
* ``GroupByReturn`` / ``GenerativeGroupByReturn``: one result per group, the
  group's first object (Weaviate reranks the groups, not their objects: see
  docs/python.md);
* a GraphQL response ``{"data": {"Get": {"<Class>": [...]}}}`` (one batch per
  class, as Weaviate ranks each class on its own), or a list of its objects:
  each object's properties, ``_additional`` beside them; a group-by wrapper
  (only ``_additional.group``) is read from its first hit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reranker_nvidia import ParamsError, SearchResult
from reranker_nvidia.cli.inputs import property_fault
from reranker_nvidia.weaviate import _output
from reranker_nvidia.weaviate._client_import import (
    GenerativeGroupByReturn,
    GenerativeReturn,
    GroupByReturn,
    QueryReturn,
)

_SHAPES = (
    "a QueryReturn, GenerativeReturn or GroupByReturn, a list of weaviate-client Objects, "
    "or a GraphQL response"
)


class PropertyNotReturnedWarning(UserWarning):
    """Kept for code that filters it; no longer given.

    A property no result holds (the query most likely did not return it) is
    now refused before sending, a :class:`ParamsError` (:func:`refuse_if_not_returned`).
    """


@dataclass(frozen=True, slots=True)
class Reading:
    """The batches to rank and how to build the new result from their orders."""

    batches: list[list[SearchResult]]
    build: Callable[[list[_output.Order]], Any]


def read(result: object) -> Reading:
    """The batches of ``result``; a ``TypeError`` for a shape this package cannot rerank."""
    if isinstance(result, QueryReturn | GenerativeReturn):
        items = list(result.objects)
        return Reading(
            [_objects(items, "objects")],
            lambda orders: _output.query_return(result, orders[0]),
        )
    if isinstance(result, GroupByReturn | GenerativeGroupByReturn):
        groups = list(result.groups.values())
        return Reading(
            [[_first_object(group) for group in groups]],
            lambda orders: _output.group_by_return(result, orders[0]),
        )
    if isinstance(result, Mapping):
        return _graphql(result)
    if isinstance(result, list | tuple):
        listed: list[Any] = list(result)
        if all(isinstance(item, Mapping) for item in listed):
            return Reading(
                [[_graphql_object(item, f"[{i}]") for i, item in enumerate(listed)]],
                lambda orders: _output.graphql_objects(listed, orders[0]),
            )
        return Reading(
            [_objects(listed, "")],
            lambda orders: _output.objects(listed, orders[0]),
        )
    raise TypeError(f"cannot rerank a {type(result).__name__}: pass {_SHAPES}")


def refuse_if_not_returned(batch: Sequence[SearchResult], prop: str) -> None:
    """:class:`ParamsError` when no result of ``batch`` has ``prop`` as text: nothing is sent.

    Weaviate would rank each as ``""``, which NVIDIA refuses; the text is the
    command line's (``reranker-nvidia rerank --property``).
    """
    if not batch or not prop:
        return
    schemas = [item.schema if isinstance(item.schema, Mapping) else {} for item in batch]
    fault = property_fault(schemas, prop)
    if fault is not None:
        raise ParamsError(fault)


def _objects(items: Sequence[Any], where: str) -> list[SearchResult]:
    return [_object(item, f"{where}[{i}]") for i, item in enumerate(items)]


def _object(item: Any, where: str) -> SearchResult:
    """One v4 ``Object`` as a search result: its properties, its uuid, its collection."""
    if not hasattr(item, "properties") or not hasattr(item, "metadata"):
        raise TypeError(
            f"{where.lstrip('.')} is a {type(item).__name__}, not a weaviate-client Object: "
            f"pass {_SHAPES}"
        )
    metadata = item.metadata
    if metadata is not None and not _has_rerank_score(metadata):
        hint = (
            ": rerank the GroupByReturn it came from, whose groups have one"
            if hasattr(item, "belongs_to_group")
            else ""
        )
        raise TypeError(
            f"{where.lstrip('.')} has a {type(metadata).__name__}, which has no rerank_score" + hint
        )
    return _search_result(item)


def _first_object(group: Any) -> SearchResult:
    """A group as Weaviate's reranker sees it: the group's first (nearest) object."""
    objects = list(group.objects)
    return _search_result(objects[0]) if objects else SearchResult(schema={})


def _search_result(item: Any) -> SearchResult:
    properties = item.properties
    return SearchResult(
        schema=properties if isinstance(properties, Mapping) else {},
        id=str(getattr(item, "uuid", "")),
        class_name=str(getattr(item, "collection", "")),
    )


def _has_rerank_score(metadata: Any) -> bool:
    """weaviate-client's metadata classes are dataclasses; only ``MetadataReturn`` has the field."""
    return dataclasses.is_dataclass(metadata) and any(
        field.name == "rerank_score" for field in dataclasses.fields(metadata)
    )


def _graphql(response: Mapping[str, Any]) -> Reading:
    data = response.get("data")
    get = data.get("Get") if isinstance(data, Mapping) else None
    if not isinstance(get, Mapping):
        raise TypeError(
            'a GraphQL response must hold {"data": {"Get": {"<Class>": [...]}}}: '
            f"pass {_SHAPES}"
        )
    names = [name for name, items in get.items() if items is not None]
    lists: dict[str, list[Mapping[str, Any]]] = {}
    for name in names:
        items = get[name]
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise TypeError(f"data.Get.{name} must be a list of objects")
        lists[name] = items
    batches = [
        [_graphql_object(item, f"data.Get.{name}[{i}]") for i, item in enumerate(items)]
        for name, items in lists.items()
    ]
    return Reading(batches, functools.partial(_graphql_build, response, lists))


def _graphql_build(
    response: Mapping[str, Any],
    lists: Mapping[str, list[Mapping[str, Any]]],
    orders: list[_output.Order],
) -> dict[str, Any]:
    classes = {
        name: _output.graphql_objects(items, order)
        for (name, items), order in zip(lists.items(), orders, strict=True)
    }
    return _output.graphql_response(response, classes)


def _graphql_object(item: Mapping[str, Any], where: str) -> SearchResult:
    additional = item.get("_additional")
    if additional is not None and not isinstance(additional, Mapping):
        raise TypeError(f"{where}._additional must be an object")
    schema: Mapping[str, Any] = {key: value for key, value in item.items() if key != "_additional"}
    group = additional.get("group") if additional else None
    hits = group.get("hits") if isinstance(group, Mapping) else None
    if isinstance(hits, list) and hits and isinstance(hits[0], Mapping):
        # A group-by wrapper: Weaviate ranked the group's first hit, its properties.
        schema = {key: value for key, value in hits[0].items() if key != "_additional"}
    identifier = additional.get("id", "") if additional else ""
    return SearchResult(schema=schema, id=identifier if isinstance(identifier, str) else "")
