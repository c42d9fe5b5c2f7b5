"""Deterministic, query-aware stand-in scores. These are NOT NVIDIA's model.

A real NIM runs a cross-encoder; the emulator runs a
BM25-style formula on each (query, passage) pair *on its own*, so a passage's
score never depends on the other passages in the request (as with a
cross-encoder, and unlike corpus BM25, which would make the scores of chunked
requests incomparable):

* terms are the lower-cased word tokens of ``_tokens.word_tokens``; the query's
  distinct terms are weighted 1.0, or 0.1 for a short list of English stop words;
* each term adds ``w * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / 64))`` with
  ``k1 = 1.2``, ``b = 0.75``, ``dl`` the passage's word count and 64 a fixed
  average length; the sum is divided by the query's total weight, giving
  ``s`` in ``[0, 2.2)``;
* the logit is ``-11.5 + 12.5 * s`` rounded to the nearest IEEE 754 half
  precision value (FP16), like the captured logits (``-4.1015625``,
  ``0.7646484375``): ``-11.5`` when nothing matches, about ``+1`` when every
  query term appears once in a passage of average length.

Rankings list every passage once, by logit descending, ties by index
ascending. Same input, same output, on every machine.
"""

from __future__ import annotations

import functools
import struct
from collections import Counter
from collections.abc import Sequence
from typing import Final

from nim_emulator._tokens import word_tokens

__all__ = ["LOGIT_FLOOR", "pair_logit", "rank_passages", "to_fp16"]

K1: Final = 1.2
B: Final = 0.75
AVERAGE_LENGTH: Final = 64.0
STOP_WEIGHT: Final = 0.1
LOGIT_FLOOR: Final = -11.5
LOGIT_SCALE: Final = 12.5
FP16_MAX: Final = 65504.0

STOP_WORDS: Final = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
    ]
)


def to_fp16(value: float) -> float:
    """``value`` rounded to the nearest FP16 value (clamped to FP16's finite range)."""
    clamped = min(FP16_MAX, max(-FP16_MAX, value))
    result: float = struct.unpack("<e", struct.pack("<e", clamped))[0]
    return result


@functools.lru_cache(maxsize=256)
def _query_weights(query: str) -> tuple[tuple[tuple[str, float], ...], float]:
    """The query's distinct terms with their weights, and the weights' sum (once per query)."""
    weights = {term: (STOP_WEIGHT if term in STOP_WORDS else 1.0) for term in word_tokens(query)}
    return tuple(weights.items()), sum(weights.values())


def pair_logit(query: str, passage: str) -> float:
    """The FP16-exact stand-in logit of one pair (see the module docstring)."""
    weights, total = _query_weights(query)
    if total == 0.0:
        return to_fp16(LOGIT_FLOOR)
    words = word_tokens(passage)
    frequencies = Counter(words)
    norm = K1 * (1.0 - B + B * len(words) / AVERAGE_LENGTH)
    score = 0.0
    for term, weight in weights:
        tf = frequencies.get(term, 0)
        if tf:
            score += weight * tf * (K1 + 1.0) / (tf + norm)
    return to_fp16(LOGIT_FLOOR + LOGIT_SCALE * score / total)


def rank_passages(query: str, passages: Sequence[str]) -> list[tuple[int, float]]:
    """``(index, logit)`` for every passage, by logit descending, ties by index ascending."""
    scored = [(index, pair_logit(query, text)) for index, text in enumerate(passages)]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored
