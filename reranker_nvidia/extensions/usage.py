"""What a call cost: ``usage=True`` fills ``result.usage`` (D-EXT-USAGE).

Python only. Go ignores the ``usage`` member NIM 2.x sends with its rankings.
With ``usage=True`` a call counts the requests it sent (retries, probes and
readiness checks included), its chunks and passages, the chunks the cache
answered (D-EXT-CACHE), and sums NIM's ``usage.prompt_tokens`` and
``usage.total_tokens`` over the chunks' answers. A token count is ``None``
unless every chunk the service answered carried it (and at least one did):
never a guess. A chunk the cache answered sent nothing and cost no tokens.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..clients._sending import Answer, Post
from ..clients.ranker import RankFlow
from ..modulecomponents._retry_drivers import Pause
from ..modulecomponents.ent.rank_result import Usage
from ._flows import observed

__all__ = ["Tally", "counted", "tokens_of"]

_TOKENS = ("prompt_tokens", "total_tokens")


class Tally:
    """One call's counts, added to from every chunk's thread or task."""

    __slots__ = ("_lock", "_tokens", "cache_hits", "chunks", "passages", "requests")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.chunks = 0
        self.passages = 0
        self.cache_hits = 0
        self._tokens: dict[str, int | None] = dict.fromkeys(_TOKENS, 0)

    def request(self) -> None:
        with self._lock:
            self.requests += 1

    def chunk(self, passages: int, tokens: dict[str, int] | None, *, cached: bool = False) -> None:
        """A chunk scored: from an answer carrying ``tokens`` (``None``: none), or the cache.

        A chunk the cache answered cost no tokens: it leaves the token counts as they are.
        """
        with self._lock:
            self.chunks += 1
            self.passages += passages
            if cached:
                self.cache_hits += 1
                return
            for name in _TOKENS:
                have = self._tokens[name]
                given = None if tokens is None else tokens.get(name)
                self._tokens[name] = None if have is None or given is None else have + given

    def usage(self) -> Usage:
        with self._lock:
            answered = self.chunks - self.cache_hits
            tokens = self._tokens if answered else dict.fromkeys(_TOKENS)
            return Usage(
                self.requests,
                self.chunks,
                self.passages,
                self.cache_hits,
                tokens["prompt_tokens"],
                tokens["total_tokens"],
            )


def counted(flow: RankFlow, tally: Tally, passages: int) -> RankFlow:
    """One chunk's ``flow``, its requests and its scoring answer's tokens counted in ``tally``."""
    last: list[Answer] = []

    def seen(step: Post | Pause, outcome: Any) -> None:
        if not isinstance(step, Post):
            return
        tally.request()
        if isinstance(outcome, Answer) and outcome.status == 200:
            last[:] = [outcome]

    scores = yield from observed(flow, seen)
    tally.chunk(passages, tokens_of(last[0].body) if last else None)
    return scores


def tokens_of(body: bytes) -> dict[str, int] | None:
    """NIM's ``usage`` token counts in a 200 body, or ``None`` when it sent none."""
    if b'"usage"' not in body:
        return None
    try:
        usage = json.loads(body).get("usage")
    except (ValueError, AttributeError):
        return None
    if not isinstance(usage, dict):
        return None
    counts = {
        name: value
        for name in _TOKENS
        if isinstance(value := usage.get(name), int) and not isinstance(value, bool) and value >= 0
    }
    return counts or None
