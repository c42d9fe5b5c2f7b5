"""The new results: the caller's objects, copied, in Weaviate's order, each with its score.

``order`` is a list of ``(position in the input, score)``, best first, ties in
input order (what the port's ``rerank`` property returns). Every object is a
new one, and so are its property map and metadata; the property values,
references and vectors are the input's own, not copied (nothing here changes
them). The caller's objects are never changed.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from reranker_nvidia.weaviate._client_import import MetadataReturn

Order = list[tuple[int, float | None]]
"""``(position in the input, score)`` for each result, best first; the score is ``None`` for a
batch that was not reranked (D-EXT-FAIL-OPEN): then the order is the search's."""


def objects(items: Sequence[Any], order: Order) -> list[Any]:
    """v4 ``Object``s (or ``GenerativeObject``s) in ``order``, ``metadata.rerank_score`` filled."""
    return [scored_object(items[index], score) for index, score in order]


def scored_object(item: Any, score: float | None) -> Any:
    """A copy of ``item`` whose ``metadata.rerank_score`` is ``score``."""
    new = _copied_object(item)
    new.metadata = _scored_metadata(item.metadata, score)
    return new


def query_return(result: Any, order: Order) -> Any:
    """A ``QueryReturn`` or ``GenerativeReturn`` with its objects reranked.

    A ``GenerativeReturn``'s generated texts are kept as they came: nothing is generated again.
    """
    new = copy.copy(result)
    new.objects = objects(result.objects, order)
    return new


def group_by_return(result: Any, order: Order) -> Any:
    """A ``GroupByReturn`` (or ``GenerativeGroupByReturn``) with its groups reranked.

    As Weaviate's gRPC reply: each group's ``rerank_score`` is its own, the groups
    come in ``order``, and the objects inside a group keep their order and carry
    no score (a group-by object's metadata has no ``rerank_score``). ``objects``
    is every group's objects, group after group, as weaviate-client builds it.
    """
    groups = list(result.groups.items())
    new_groups: dict[str, Any] = {}
    for index, score in order:
        name, group = groups[index]
        new_group = copy.copy(group)
        new_group.rerank_score = score
        new_group.objects = [_copied_object(item) for item in group.objects]
        new_groups[name] = new_group
    new = copy.copy(result)
    new.groups = new_groups
    new.objects = [item for group in new_groups.values() for item in group.objects]
    return new


def graphql_objects(items: Sequence[Mapping[str, Any]], order: Order) -> list[dict[str, Any]]:
    """GraphQL ``Get`` objects in ``order``, each with ``_additional.rerank = [{"score": s}]``."""
    out = []
    for index, score in order:
        item = items[index]
        additional = item.get("_additional")
        kept = dict(additional) if isinstance(additional, Mapping) else {}
        if score is None:  # not reranked (D-EXT-FAIL-OPEN): no rerank entry
            out.append(dict(item))
            continue
        out.append({**item, "_additional": {**kept, "rerank": [{"score": score}]}})
    return out


def graphql_response(
    response: Mapping[str, Any], classes: Mapping[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The response again, each class of ``data.Get`` replaced by its reranked objects."""
    data = response["data"]
    get = data["Get"]
    return {**response, "data": {**data, "Get": {**get, **classes}}}


def _copied_object(item: Any) -> Any:
    new = copy.copy(item)
    if isinstance(item.properties, Mapping):
        new.properties = dict(item.properties)
    if item.metadata is not None:
        new.metadata = copy.copy(item.metadata)
    return new


def _scored_metadata(metadata: Any, score: float | None) -> Any:
    """A copy of ``metadata`` with ``rerank_score`` (``_inputs`` has checked that it has one)."""
    if metadata is None:
        return MetadataReturn(rerank_score=score)
    return dataclasses.replace(metadata, rerank_score=score)
