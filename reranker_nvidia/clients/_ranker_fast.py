"""The fast path of ranker.py's response parsing: a good 200 body read without a model per ranking.

Python only. Validating a body into one pydantic ``Ranking`` per passage costs
more than the request itself: each chunk leaves 512 tracked objects behind for
the garbage collector. :func:`plain_rankings` reads the body once with
``pydantic_core.from_json`` into plain values and checks them list by list:
every ranking an object whose ``index`` is an ``int`` inside ``0..passages-1``
and whose ``logit`` a finite ``float``. What passes is exactly what the model
would accept, so the outcome is the same; anything else (a fault, or a value
the fast check does not vouch for, such as a logit written ``1``) returns
``None`` and the caller validates the body the slow way, which words the error
as before. The rankings come back as two plain lists (:class:`PlainRankings`),
which are not tracked by the collector.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar, overload

import pydantic_core

T = TypeVar("T")


class PlainRankings(Sequence[T], Generic[T]):
    """The rankings of a body, in the body's order, as parallel lists of indices and logits.

    As a sequence it yields ``build(index, logit)`` (ranker.py passes a model
    constructor that skips validation, the values being checked already), so a
    caller sees the same rankings the slow path gives. ``passages`` is the
    bound every index was checked against.
    """

    __slots__ = ("_build", "indices", "logits", "passages")

    def __init__(
        self,
        indices: list[int],
        logits: list[float],
        passages: int,
        build: Callable[[int, float], T],
    ) -> None:
        self.indices = indices
        self.logits = logits
        self.passages = passages
        self._build = build

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, item: int) -> T: ...
    @overload
    def __getitem__(self, item: slice) -> list[T]: ...
    def __getitem__(self, item: int | slice) -> T | list[T]:
        if isinstance(item, slice):
            pairs = zip(self.indices[item], self.logits[item], strict=True)
            return [self._build(i, logit) for i, logit in pairs]
        return self._build(self.indices[item], self.logits[item])

    def __iter__(self) -> Iterator[T]:
        build = self._build
        for index, logit in zip(self.indices, self.logits, strict=True):
            yield build(index, logit)

    def __repr__(self) -> str:
        return f"PlainRankings({len(self)} rankings for {self.passages} passages)"


def plain_rankings(
    body: bytes, passages: int, build: Callable[[int, float], T]
) -> PlainRankings[T] | None:
    """The rankings of a body the fast check vouches for; ``None`` sends it the slow way."""
    try:
        document = pydantic_core.from_json(body)
    except ValueError:
        return None
    if type(document) is not dict:
        return None
    rankings = document.get("rankings")
    if rankings is None:  # absent or null: no rankings, as the model reads it
        return PlainRankings([], [], passages, build)
    if type(rankings) is not list:
        return None
    try:  # each ranking an object with both members, or the slow way
        indices = [ranking["index"] for ranking in rankings]
        logits = [ranking["logit"] for ranking in rankings]
    except (KeyError, TypeError):
        return None
    # The checks run over whole lists at C speed. ``type() is`` refuses True for an int and
    # 1 for a float, as the strict model does; a sum is finite only if every logit is (a
    # finite sum too large for a float goes the slow way, which accepts it).
    if indices and (
        set(map(type, indices)) != {int}
        or set(map(type, logits)) != {float}
        or min(indices) < 0
        or max(indices) >= passages
        or not math.isfinite(sum(logits))
    ):
        return None
    return PlainRankings(indices, logits, passages, build)
