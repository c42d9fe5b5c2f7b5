"""The emulator's token count: an approximation, NOT NVIDIA's tokenizer.

A token is either a run of at most 16 word
characters (letters, digits, underscore, any script) or one other non-space
character. ``"Library 9-10."`` is 5 tokens: ``Library``, ``9``, ``-``, ``10``,
``.``. A 40-letter word is 3 tokens (16 + 16 + 8). Real NIMs use the model's
own sub-word tokenizer and add special tokens, so their counts differ; the
approximation only has to be stable, documented, and roughly the right size
so that the token limits (512, 8192, …) bite at about the right length.

A pair's length is ``count(query) + count(passage)``. ``truncate: END`` cuts
tokens from the right, the passage first, then the query.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["PairFit", "count_tokens", "cut_tokens", "fit_pair", "word_tokens"]

_TOKEN: Final = re.compile(r"\w{1,16}|[^\w\s]")
_WORD: Final = re.compile(r"\w{1,16}")


def count_tokens(text: str) -> int:
    """The number of tokens in ``text`` (see the module docstring)."""
    return len(_TOKEN.findall(text))


@functools.lru_cache(maxsize=256)
def _query_tokens(query: str) -> int:
    """``count_tokens`` for a query, which every pair of a request shares."""
    return count_tokens(query)


def cut_tokens(text: str, keep: int) -> str:
    """``text`` up to the end of its ``keep``-th token (the whole text if it is shorter)."""
    if keep <= 0:
        return ""
    end = 0
    for i, match in enumerate(_TOKEN.finditer(text)):
        if i == keep:
            return text[:end]
        end = match.end()
    return text


def word_tokens(text: str) -> list[str]:
    """The lower-cased word tokens of ``text`` (no punctuation), for scoring."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class PairFit:
    """One query+passage pair measured against a token limit.

    ``length`` is the pair's length before any cut (what an overflow error
    reports); ``used`` after the cut; ``query`` and ``passage`` are the texts
    that get scored.
    """

    length: int
    used: int
    query: str
    passage: str


def fit_pair(query: str, passage: str, limit: int, *, cut: bool) -> PairFit:
    """Measure a pair; when ``cut`` (``truncate: END``) cut it down to ``limit`` tokens.

    Without ``cut`` the texts are returned whole and ``used == length``; the
    caller compares ``length`` with the limit itself.
    """
    q = _query_tokens(query)
    p = count_tokens(passage)
    length = q + p
    if not cut or length <= limit:
        return PairFit(length, length, query, passage)
    keep_p = max(0, limit - q)
    keep_q = min(q, limit)
    return PairFit(length, keep_q + keep_p, cut_tokens(query, keep_q), cut_tokens(passage, keep_p))
