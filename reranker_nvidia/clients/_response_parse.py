"""Reading a 200 body for ranker.py: the fast path, the bound on rankings, the slow path's parts.

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
from typing import Generic, Protocol, Self, TypeVar, overload

import pydantic_core
from pydantic_core import ValidationError

from .._gostd import json as gojson
from ..errors import InvalidRankingsError, ResponseParseError
from ._error_dialects import rank_response_fault

T = TypeVar("T")


class _ReadsJson(Protocol):
    """A pydantic model, or a ``_wire.WireStruct``: what :func:`validated` reads a body into."""

    @classmethod
    def model_validate_json(cls, json_data: bytes, /) -> Self: ...


_Model = TypeVar("_Model", bound=_ReadsJson)


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
        document = gojson.from_json(body)
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


def placed_logits(rankings: object, passages: int) -> list[float] | None:
    """The logits in passage order, when ``rankings`` came from :func:`plain_rankings` for
    ``passages`` passages and rank each exactly once; else ``None``, and the caller places
    them one by one, with its errors. At C speed: every index was checked to be in range,
    so ``passages`` distinct ones are each passage once."""
    if not isinstance(rankings, PlainRankings) or rankings.passages != passages:
        return None
    by_index = dict(zip(rankings.indices, rankings.logits, strict=True))
    if len(rankings.indices) != passages or len(by_index) != passages:
        return None
    return list(map(by_index.__getitem__, range(passages)))


# --------------------------------------------------------------------------
# The slow path's parts: what parse_rank_response does with a body the fast
# check does not vouch for.
# --------------------------------------------------------------------------


def refuse_more_rankings_than(passages: int, body: bytes) -> None:
    """D-RANKINGS-BOUND: more rankings than passages, refused before any ranking is built.

    Each ranking is an object, so a body with no more ``{`` than passages
    cannot hold too many, and is not looked at twice. Otherwise the rankings
    are counted on plain JSON values, a fraction of the time and memory of
    validated ones; a body that does not parse is left to the validation.
    """
    if body.count(b"{") - 1 <= passages:
        return
    try:
        document = pydantic_core.from_json(body)
    except ValueError:
        return
    rankings = document.get("rankings") if isinstance(document, dict) else None
    if isinstance(rankings, list) and len(rankings) > passages:
        raise invalid_rankings(
            f"{len(rankings)} rankings for {passages} passages, more than one per passage"
        )


def parse_failure(
    status: int,
    fault: ValidationError | None,
    body: bytes,
    kind: type[ResponseParseError] = ResponseParseError,
) -> ResponseParseError:
    """Go's ``failed to parse reranker response (status N): …``, the one source of that text.

    ``fault`` is what :func:`validated` found (D-PARSE-REASON words it), or a
    reason of its own is given through :func:`invalid_rankings`.
    """
    reason = (
        "json: a number has more digits than can be read"
        if fault is None
        else rank_response_fault(fault, body)
    )
    return ResponseParseError(_prefixed(status, reason), status=status)


def invalid_rankings(reason: str, status: int = 200) -> InvalidRankingsError:
    """The rankings of a 200 do not place each passage once (D-RANKINGS-INDEX, -BOUND)."""
    return InvalidRankingsError(_prefixed(status, reason))


def _prefixed(status: int, reason: str) -> str:
    return f"failed to parse reranker response (status {status}): {reason}"


def validated(body: bytes, shape: type[_Model]) -> _Model | ValidationError | None:
    """``body`` read into ``shape``, or the fault; ``None`` for a number too long to read.

    Invalid UTF-8 is read as U+FFFD, as Go's decoder reads it, rather than refused.
    """
    try:
        return shape.model_validate_json(body)
    except ValidationError as err:
        if err.errors(include_input=False)[0]["type"] != "json_invalid" or is_utf8(body):
            return err
    except ValueError:
        return None
    return validated(body.decode("utf-8", "replace").encode("utf-8"), shape)


def is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
