"""JSON reading with a nesting bound, for every body the emulator parses.

A body nested thousands of levels deep makes ``json.loads`` raise
``RecursionError`` (and a parsed value a few hundred levels deep breaks
``copy.deepcopy`` and pydantic). Every body the emulator reads — a request to a
NIM route, a cassette's recorded bodies, a control route's JSON, the request
log — goes through :func:`loads`, which refuses anything nested deeper than
``MAX_DEPTH`` with :class:`JsonTooDeepError`, a ``ValueError`` like any other bad
JSON, so callers that already handle bad JSON handle it too.

``MAX_DEPTH`` is 128, serde_json's default recursion limit: NIM 2.x is a Rust
service (its ``RUST_LOG`` setting), so a deeper body is, by inference, refused
by the real NIM as malformed JSON.
"""

from __future__ import annotations

import json
from itertools import chain, compress, repeat
from typing import Any, Final

__all__ = ["MAX_DEPTH", "JsonTooDeepError", "check_depth", "depth_exceeds", "loads", "parse"]

MAX_DEPTH: Final = 128


class JsonTooDeepError(ValueError):
    """A JSON text nested deeper than :data:`MAX_DEPTH` levels."""

    def __init__(self) -> None:
        super().__init__(f"recursion limit exceeded: JSON nested deeper than {MAX_DEPTH} levels")


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``, refusing more than ``MAX_DEPTH`` levels (:class:`JsonTooDeepError`).

    The common, shallow body costs two C-level counts more than ``json.loads``:
    only a text with more than ``MAX_DEPTH`` brackets has its value walked.
    """
    value = parse(data)
    check_depth(data, value)
    return value


def parse(data: str | bytes) -> Any:
    """``json.loads(data)``, a :class:`JsonTooDeepError` for what is too deep for it to read.

    The depth is not checked otherwise: a caller that sees the value's whole
    shape (the valid NIM body) needs no check; any other calls :func:`check_depth`.
    """
    try:
        return json.loads(data)
    except RecursionError:
        raise JsonTooDeepError from None


def check_depth(data: str | bytes, value: object) -> None:
    """Raises :class:`JsonTooDeepError` if ``value``, parsed from ``data``, is too deep."""
    if isinstance(data, bytes):
        brackets = data.count(b"[") + data.count(b"{")
    else:
        brackets = data.count("[") + data.count("{")
    if brackets > MAX_DEPTH and depth_exceeds(value):
        raise JsonTooDeepError


def depth_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests lists and objects more than ``limit`` deep.

    Walked one level at a time, each level's containers picked out and opened
    by C loops (``compress``/``chain``), not one Python step per item: a body
    of 512 passages is ~1 000 items and was the emulator's largest cost but
    scoring.
    """
    level: list[Any] = [value] if isinstance(value, (dict, list)) else []
    depth = 1
    while level:
        if depth > limit:
            return True
        dicts = compress(level, map(isinstance, level, repeat(dict)))
        lists = compress(level, map(isinstance, level, repeat(list)))
        values = chain.from_iterable(map(dict.values, dicts))
        children = list(chain(values, chain.from_iterable(lists)))
        level = list(compress(children, map(isinstance, children, repeat(_CONTAINERS))))
        depth += 1
    return False


_CONTAINERS: Final = (dict, list)
