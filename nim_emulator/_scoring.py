"""Deterministic, query-aware stand-in scores. These are NOT NVIDIA's model.

A real NIM runs a cross-encoder; the emulator runs a
BM25-style formula on each (query, passage) pair *on its own*, so a passage's
score never depends on the other passages in the request (as with a
cross-encoder, and unlike corpus BM25, which would make the scores of chunked
requests incomparable):

* terms are the lower-cased word tokens of ``_tokens.word_tokens``, lightly
  stemmed (:func:`stem`: ``dunes`` → ``dune``, ``opens`` → ``open``); the
  query's distinct terms are weighted 1.0, or 0.1 for a short list of English
  stop words;
* each term adds ``w * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / 64))`` with
  ``k1 = 1.2``, ``b = 0.75``, ``dl`` the passage's word count and 64 a fixed
  average length;
* a phrase of the query (two content words next to each other once stop words
  are left out: ``desert planet``) found in the passage in the same order adds
  the same amount with weight 1.0, as a bonus: a passage is not marked down
  for missing it;
* the sum is divided by the terms' total weight, giving ``s``: ``[0, 2.2)``
  from the terms, more with phrases;
* the logit is ``-11.5 + 12.5 * s`` rounded to the nearest IEEE 754 half
  precision value (FP16), like the captured logits (``-4.1015625``,
  ``0.7646484375``): ``-11.5`` when nothing matches, about ``+1`` when every
  query term appears once in a passage of average length, more when its
  phrases do too.

Rankings list every passage once, by logit descending, ties by index
ascending. Same input, same output, on every machine.

Two more scores, also deterministic:

* ``hash`` scoring (``EmulatorConfig(scoring="hash")``, for benchmarks): a
  passage's logit is the CRC-32 of its text, seeded with the query's, picking
  one of 4096 FP16 values spread evenly over ``[-12, 4)`` — a realistic spread
  of scores, no words looked at, well under a microsecond a passage;
* an image-only passage (multimodal models) always gets that hash score, of
  the query and the image's data URL;
* the gateway's ``relevance_score`` is the logistic function of the logit
  (Cohere's scores lie in ``[0, 1]``).
"""

from __future__ import annotations

import functools
import itertools
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from nim_emulator._tokens import word_tokens

__all__ = [
    "LOGIT_FLOOR",
    "hash_logit",
    "pair_logit",
    "rank_mixed",
    "rank_passages",
    "relevance_score",
    "stem",
    "to_fp16",
]

K1: Final = 1.2
B: Final = 0.75
AVERAGE_LENGTH: Final = 64.0
STOP_WEIGHT: Final = 0.1
PHRASE_WEIGHT: Final = 1.0
LOGIT_FLOOR: Final = -11.5
LOGIT_SCALE: Final = 12.5
FP16_MAX: Final = 65504.0
HASH_LOW: Final = -12.0
HASH_SPAN: Final = 16.0

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


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light stemmer (Harman's "S" stemmer) for a lower-cased word of four letters or more.

    ``-ies`` becomes ``-y`` (``berries`` → ``berry``); ``-es`` and ``-s`` lose the
    ``s`` (``dunes`` → ``dune``, ``opens`` → ``open``), except ``-aes``, ``-ees``,
    ``-oes``, ``-us`` and ``-ss``. Shorter words are kept whole (``is``, ``was``).
    """
    if len(word) < 4:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def _phrases(text: str) -> list[tuple[str, str]]:
    """Adjacent pairs of the stemmed content words of ``text`` (stop words left out)."""
    content = [stem(word) for word in word_tokens(text) if word not in STOP_WORDS]
    return list(itertools.pairwise(content))


def to_fp16(value: float) -> float:
    """``value`` rounded to the nearest FP16 value (clamped to FP16's finite range)."""
    clamped = min(FP16_MAX, max(-FP16_MAX, value))
    result: float = struct.unpack("<e", struct.pack("<e", clamped))[0]
    return result


@dataclass(frozen=True)
class _Query:
    """A query's distinct terms and phrases with their weights, and the terms' weights' sum."""

    terms: tuple[tuple[str, float], ...]
    phrases: tuple[tuple[tuple[str, str], float], ...]
    total: float


@functools.lru_cache(maxsize=256)
def _query(query: str) -> _Query:
    """The query's weighted terms and phrases (computed once per query)."""
    terms: dict[str, float] = {}
    for word in word_tokens(query):
        weight = STOP_WEIGHT if word in STOP_WORDS else 1.0
        key = stem(word)
        terms[key] = max(weight, terms.get(key, 0.0))
    phrases = dict.fromkeys(_phrases(query), PHRASE_WEIGHT)
    # Phrases are a bonus: a passage is not marked down for missing them.
    return _Query(tuple(terms.items()), tuple(phrases.items()), sum(terms.values()))


def _saturated(tf: int, norm: float) -> float:
    return tf * (K1 + 1.0) / (tf + norm)


def pair_logit(query: str, passage: str) -> float:
    """The FP16-exact stand-in logit of one pair (see the module docstring).

    The passage is tokenized once; its terms and phrases are counted only for
    the query's (the same sums as counting them all, in the same order).
    """
    q = _query(query)
    if q.total == 0.0:
        return to_fp16(LOGIT_FLOOR)
    words = word_tokens(passage)
    stems = [stem(word) for word in words]
    norm = K1 * (1.0 - B + B * len(stems) / AVERAGE_LENGTH)
    score = 0.0
    for term, weight in q.terms:
        tf = stems.count(term)
        if tf:
            score += weight * _saturated(tf, norm)
    if q.phrases:
        content = [s for word, s in zip(words, stems, strict=True) if word not in STOP_WORDS]
        pairs = list(itertools.pairwise(content))
        for pair, weight in q.phrases:
            tf = pairs.count(pair)
            if tf:
                score += weight * _saturated(tf, norm)
    return to_fp16(LOGIT_FLOOR + LOGIT_SCALE * score / q.total)


def rank_passages(query: str, passages: Sequence[str]) -> list[tuple[int, float]]:
    """``(index, logit)`` for every passage, by logit descending, ties by index ascending."""
    return _best_first([pair_logit(query, text) for text in passages])


def _best_first(logits: list[float]) -> list[tuple[int, float]]:
    """``(index, logit)`` by logit descending, ties by index ascending.

    ``reverse=True`` keeps the sort stable: equal logits stay in index order.
    """
    order = sorted(range(len(logits)), key=logits.__getitem__, reverse=True)
    return [(index, logits[index]) for index in order]


HASH_STEPS: Final = 4096
# The hash scores: FP16 values spread evenly over [HASH_LOW, HASH_LOW + HASH_SPAN).
_HASH_TABLE: Final = tuple(
    to_fp16(HASH_LOW + HASH_SPAN * (step + 0.5) / HASH_STEPS) for step in range(HASH_STEPS)
)


@functools.lru_cache(maxsize=256)
def _query_seed(query: str) -> int:
    """The CRC-32 of the query and a NUL: the seed of its passages' hashes."""
    return zlib.crc32(query.encode() + b"\x00")


def hash_logit(query: str, passage: str) -> float:
    """The ``hash`` score of one pair: FP16-exact, in ``[-12, 4)`` (module docstring)."""
    return _HASH_TABLE[zlib.crc32(passage.encode(), _query_seed(query)) % HASH_STEPS]


def rank_mixed(
    query: str,
    texts: Sequence[str | None],
    images: Sequence[str | None] | None,
    *,
    hashed: bool,
) -> list[tuple[int, float]]:
    """``rank_passages`` with ``hash`` scoring and image-only passages (module docstring)."""
    if hashed and images is None:
        seed, table = _query_seed(query), _HASH_TABLE
        return _best_first(
            [table[zlib.crc32(text.encode(), seed) % HASH_STEPS] for text in texts]  # type: ignore[union-attr]
        )
    logits: list[float] = []
    for index, text in enumerate(texts):
        if text is None:
            image = images[index] if images is not None else None
            logits.append(hash_logit(query, image or ""))
        elif hashed:
            logits.append(hash_logit(query, text))
        else:
            logits.append(pair_logit(query, text))
    return _best_first(logits)


def relevance_score(logit: float) -> float:
    """The gateway's score of a logit: the logistic function, in ``[0, 1]``."""
    return 1.0 / (1.0 + math.exp(-logit))
