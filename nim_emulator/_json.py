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
from typing import Any, Final

__all__ = ["MAX_DEPTH", "JsonTooDeepError", "depth_exceeds", "loads"]

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
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonTooDeepError from None
    if isinstance(data, bytes):
        brackets = data.count(b"[") + data.count(b"{")
    else:
        brackets = data.count("[") + data.count("{")
    if brackets > MAX_DEPTH and depth_exceeds(value):
        raise JsonTooDeepError
    return value


def depth_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests lists and objects more than ``limit`` deep."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False
