"""A cache keyed per chunk: ``cache="memory"``, ``"memory:N"``, ``"sqlite:PATH"`` (D-EXT-CACHE).

Python only. NOT YET BUILT: the interface plan.py calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..clients.ranker import RankFlow, _Call, _Client
from .usage import Tally

__all__ = ["cache_key", "cached", "open_cache"]


def open_cache(client: _Client, spec: Any) -> Any:
    raise NotImplementedError


def cache_key(call: _Call, chunk: Sequence[Any], settings: Mapping[str, Any]) -> bytes:
    raise NotImplementedError


def cached(
    flow: RankFlow, cache: Any, key: bytes, chunk: Sequence[Any], tally: Tally | None
) -> RankFlow:
    raise NotImplementedError
