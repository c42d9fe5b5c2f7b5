"""weaviate-client v4 results, built directly as its gRPC parsing builds them; no server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from weaviate.collections.classes.internal import (
    GenerativeObject,
    GenerativeReturn,
    GenerativeSingle,
    Group,
    GroupByMetadataReturn,
    GroupByObject,
    GroupByReturn,
    MetadataReturn,
    Object,
    QueryReturn,
)

from nim_emulator.models import EmulatorState

KEY = "test-key"
TEXTS = ("Cafeteria 8-8.", "Library opens 9.", "Parking is free.", "The library closes at 10.")
QUERY = "When does the library open?"


@dataclass
class Emulator:
    base_url: str
    state: EmulatorState

    def bodies(self) -> list[Any]:
        """The JSON body of each request the NIM received, in order."""
        return [record.json for record in self.state.requests]


def uid(i: int) -> uuid.UUID:
    return uuid.UUID(int=i + 1)


def v4_object(i: int, text: str, **metadata: Any) -> Object[Any, Any]:
    return Object(
        uuid=uid(i),
        metadata=MetadataReturn(**metadata),
        properties={"text": text, "n": i},
        references=None,
        vector={"default": [0.1 * i, 0.2]},
        collection="Doc",
    )


def query_return(texts: tuple[str, ...] = TEXTS) -> QueryReturn[Any, Any]:
    return QueryReturn(objects=[v4_object(i, t, distance=0.1 * i) for i, t in enumerate(texts)])


def generative_return(texts: tuple[str, ...] = TEXTS) -> GenerativeReturn[Any, Any]:
    objects = [
        GenerativeObject(
            generated=None,
            generative=GenerativeSingle(debug=None, metadata=None, text=f"said {i}"),
            uuid=uid(i),
            metadata=MetadataReturn(distance=0.1 * i),
            properties={"text": t},
            references=None,
            vector={},
            collection="Doc",
        )
        for i, t in enumerate(texts)
    ]
    return GenerativeReturn(generated=None, objects=objects, generative=None)


def group_by_return(groups: dict[str, list[str]]) -> GroupByReturn[Any, Any]:
    """Groups as weaviate-client builds them from the gRPC reply (objects nearest first)."""
    built: dict[str, Group[Any, Any]] = {}
    n = 0
    for name, texts in groups.items():
        objects = []
        for text in texts:
            objects.append(
                GroupByObject(
                    uuid=uid(n),
                    metadata=GroupByMetadataReturn(distance=0.1 * n),
                    properties={"text": text},
                    references=None,
                    vector={},
                    collection="Doc",
                    belongs_to_group=name,
                )
            )
            n += 1
        built[name] = Group(
            name=name,
            min_distance=0.0,
            max_distance=0.1 * n,
            number_of_objects=len(objects),
            objects=objects,
            rerank_score=0.0,  # what weaviate-client reads from a reply without a rerank
        )
    return GroupByReturn(
        objects=[o for group in built.values() for o in group.objects], groups=built
    )
