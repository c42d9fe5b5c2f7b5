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

import collections
import functools
import itertools
import math
import operator
import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

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


# What a text's query words make of its score (see _terms_score).
_Known = tuple[float, float, float, tuple[tuple[re.Pattern[bytes], float], ...]]


@dataclass(frozen=True)
class _Query:
    """A query's distinct terms and phrases with their weights, and the terms' weights' sum.

    The rest serves the ASCII path (:func:`_ascii_logits`): ``floor`` is the
    logit of a passage that matches nothing; ``weights`` the terms' weights in
    order; ``matcher`` finds, in a passage's word bytes, every word that stems to
    one of the terms (None: no term can be in an ASCII passage);
    ``surface_term`` maps such a word to its term's index; ``phrase_rules`` are
    ``(index of a, index of b, matcher or None, weight)`` for each phrase ``a b``;
    ``text`` is the query itself (its memo's key in ``_MEMOS``).
    """

    terms: tuple[tuple[str, float], ...]
    phrases: tuple[tuple[tuple[str, str], float], ...]
    total: float
    floor: float
    weights: tuple[float, ...]
    matcher: re.Pattern[bytes] | None
    surface_term: dict[bytes, int]
    phrase_rules: tuple[tuple[int, int, re.Pattern[bytes] | None, float], ...]
    text: str


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
    total = sum(terms.values())
    # The logit of a score of 0.0, computed as every other logit is.
    floor = to_fp16(LOGIT_FLOOR + LOGIT_SCALE * 0.0 / total) if total else to_fp16(LOGIT_FLOOR)
    index = {term: i for i, term in enumerate(terms)}
    surfaces = {term: _surfaces(term) for term in terms}
    every = [word for words in surfaces.values() for word in words]
    # A match takes the space before a word and only looks at the one after it, so words
    # side by side ("gpu gpu") are each found.
    matcher = re.compile(f" ({_alternation(every)})(?= )".encode()) if every else None
    rules = []
    for (a, b), weight in phrases.items():
        # Stop words are no part of a phrase, and any number of them may stand between its
        # words. Only the phrase's first word is taken, so overlapping ones ("x x x") all count.
        firsts = [word for word in surfaces[a] if word not in STOP_WORDS]
        seconds = [word for word in surfaces[b] if word not in STOP_WORDS]
        rule = None
        if firsts and seconds:
            pattern = (
                f" {_alternation(firsts)}(?=(?: +{_STOP_PATTERN}(?= ))* +{_alternation(seconds)} )"
            )
            rule = re.compile(pattern.encode())
        rules.append((index[a], index[b], rule, weight))
    return _Query(
        tuple(terms.items()),
        tuple(phrases.items()),
        total,
        floor,
        tuple(terms.values()),
        matcher,
        {word.encode(): index[term] for term, words in surfaces.items() for word in words},
        tuple(rules),
        query,
    )


def _surfaces(term: str) -> list[str]:
    """Every word that :func:`stem` turns into ``term`` and that the ASCII path can see.

    ``stem`` keeps a word, drops its final ``s``, or turns ``-ies`` into ``-y``,
    so the only candidates are ``term``, ``term + "s"`` and ``term[:-1] + "ies"``;
    each is kept if it stems to ``term`` and is one ASCII word token (at most 16
    word characters: the ASCII path sees no longer run).
    """
    candidates = [term, term + "s"]
    if term.endswith("y"):
        candidates.append(term[:-1] + "ies")
    return [word for word in candidates if stem(word) == term and _ASCII_WORD.fullmatch(word)]


_ASCII_WORD: Final = re.compile(r"[a-z0-9_]{1,16}")


def _alternation(words: Iterable[str]) -> str:
    """A regex group matching exactly one of ``words`` (a trie, so a try fails at once).

    ``(?:gpu|memor(?:ies|y(?:s)?))`` for ``gpu memory memorys memories``.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_pattern(trie)


def _trie_pattern(node: dict[str, Any]) -> str:
    branches = [re.escape(char) + _trie_pattern(node[char]) for char in sorted(node) if char]
    if not branches:
        return ""
    if len(branches) == 1 and "" not in node:
        return branches[0]
    group = f"(?:{'|'.join(branches)})"
    return f"{group}?" if "" in node else group


_STOP_PATTERN: Final = _alternation(STOP_WORDS)


def _saturated(tf: int, norm: float) -> float:
    return tf * (K1 + 1.0) / (tf + norm)


_K1_PLUS_1: Final = K1 + 1.0
# The ASCII path's byte tables: word characters ([A-Za-z0-9_], what \w is in ASCII) lower-cased
# and everything else a space; then every byte but a space a "w", to count and measure words.
_WORD_BYTES: Final = bytes(
    ord(chr(b).lower()) if b < 0x80 and (chr(b).isalnum() or chr(b) == "_") else 0x20
    for b in range(256)
)
_SHAPE_BYTES: Final = bytes(32 if b == 32 else 119 for b in range(256))
_LONG_RUN: Final = b"w" * 17  # a word token is at most 16 word characters
_FP16_CACHE: dict[float, float] = {}
_FP16_CACHE_SIZE: Final = 1 << 14


def _fp16(value: float) -> float:
    """:func:`to_fp16`, remembered (passages share few distinct scores)."""
    result = _FP16_CACHE.get(value)
    if result is None:
        result = to_fp16(value)
        if value:  # 0.0 and -0.0 are one key: neither is remembered, each keeps its own sign
            if len(_FP16_CACHE) >= _FP16_CACHE_SIZE:
                _FP16_CACHE.clear()
            _FP16_CACHE[value] = result
    return result


def pair_logit(query: str, passage: str) -> float:
    """The FP16-exact stand-in logit of one pair (see the module docstring)."""
    q = _query(query)
    if q.total == 0.0:
        return to_fp16(LOGIT_FLOOR)
    return _logits(q, [passage])[0]


def rank_passages(query: str, passages: Sequence[str]) -> list[tuple[int, float]]:
    """``(index, logit)`` for every passage, by logit descending, ties by index ascending."""
    q = _query(query)
    if q.total == 0.0:
        return _best_first([to_fp16(LOGIT_FLOOR)] * len(passages))
    return _best_first(_logits(q, passages))


def _logits(q: _Query, texts: Sequence[str]) -> list[float]:
    """The logits of ``texts`` for a query with terms: all at once when they are ASCII.

    Both paths give the same sums in the same order, so the same floats: the
    ASCII path (:func:`_ascii_logits`) for texts that are all ASCII with no
    run of more than 16 word characters, else each text on its own.
    """
    if all(map(str.isascii, texts)):
        logits = _ascii_logits(q, texts)
        if logits is not None:
            return logits
    return [_one_logit(q, text) for text in texts]


def _one_logit(q: _Query, text: str) -> float:
    if text.isascii():
        logits = _ascii_logits(q, (text,))
        if logits is not None:
            return logits[0]
    return _tokenized_logit(q, text)


def _ascii_logits(q: _Query, texts: Sequence[str]) -> list[float] | None:
    r"""The logits of ASCII ``texts``, without making their tokens; None if a word is too long.

    The texts are joined into one buffer, ``" " + text + " " + text ... + " "``,
    and each byte turned into itself lower-cased if it is a word character
    (``\w`` in ASCII), else a space. With no run of more than 16 word characters
    (a longer one is cut into tokens: None, the caller tokenizes), a text's
    tokens are its runs of word characters: their number is the count of
    ``" w"`` in the text's stretch of the "shape" (each non-space a ``w``), and
    the query's words and phrases are found with regexes over its stretch of the
    buffer (``pos``/``endpos``), all in C. Python runs only for a word count and
    set of query words not seen before (:func:`_terms_score`, remembered) and for
    a text that holds both words of a phrase.
    """
    floor = q.floor
    if q.matcher is None:  # no term is an ASCII word: nothing to find, whatever the tokens
        return [floor] * len(texts)
    words = (" " + " ".join(texts) + " ").encode().translate(_WORD_BYTES)
    shape = words.translate(_SHAPE_BYTES)
    if _LONG_RUN in shape:  # one linear search over the whole buffer (two-way, in C)
        return None
    # Text i stretches from its space before to its space after: [ends[i], ends[i + 1] + 1).
    spans = map(operator.add, map(len, texts), itertools.repeat(1))  # a text and a space
    ends = list(itertools.accumulate(spans, initial=0))
    starts = ends[:-1]
    stops = list(map(operator.add, ends[1:], itertools.repeat(1)))
    found_lists = list(map(q.matcher.findall, itertools.repeat(words), starts, stops))
    lengths = map(shape.count, itertools.repeat(b" w"), starts, stops)
    # The same words in another order make the same score: sorted, they make one key.
    collections.deque(map(list.sort, found_lists), maxlen=0)
    keys = list(zip(lengths, map(b" ".join, found_lists), strict=True))
    memo = _memo(q.text)
    known = list(map(memo.get, keys))
    for i in itertools.compress(range(len(known)), map(operator.not_, known)):
        entry = _terms_score(q, found_lists[i], keys[i][0])
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[keys[i]] = known[i] = entry
    done = cast("list[_Known]", known)  # no None left
    logits: list[float] = list(map(operator.itemgetter(0), done))
    # Only a text holding both words of a phrase runs the phrase's regex.
    for i in itertools.compress(range(len(done)), map(operator.itemgetter(3), done)):
        _, score, norm, rules = done[i]
        for rule, weight in rules:
            tf = len(rule.findall(words, starts[i], stops[i]))
            if tf:
                score += weight * (tf * _K1_PLUS_1 / (tf + norm))
        logits[i] = _fp16(LOGIT_FLOOR + LOGIT_SCALE * score / q.total)
    return logits


# Per query, _terms_score by (word count, the query's words found in the text, sorted and
# joined): at most _MEMO_QUERIES queries of at most _MEMO_SIZE entries each.
_MEMOS: dict[str, dict[tuple[int, bytes], _Known]] = {}
_MEMO_QUERIES: Final = 16
_MEMO_SIZE: Final = 1 << 12


def _memo(query: str) -> dict[tuple[int, bytes], _Known]:
    memo = _MEMOS.get(query)
    if memo is None:
        if len(_MEMOS) >= _MEMO_QUERIES:
            _MEMOS.clear()
        memo = _MEMOS[query] = {}
    return memo


def _terms_score(q: _Query, found: Sequence[bytes], length: int) -> _Known:
    """What a text's words alone make of its score: ``(logit if no phrase can count, the
    terms' sum, norm, the phrase rules whose two terms are both in the text)``.

    Depends only on the query, ``length`` and ``found`` (the query's words in
    the text, in any order), so :func:`_ascii_logits` remembers it (``_MEMOS``).
    """
    norm = K1 * (1.0 - B + B * length / AVERAGE_LENGTH)
    counts: dict[int, int] = {}
    for word in found:
        index = q.surface_term[word]
        counts[index] = counts.get(index, 0) + 1
    score = 0.0
    for index in sorted(counts):
        tf = counts[index]
        score += q.weights[index] * (tf * _K1_PLUS_1 / (tf + norm))
    rules = tuple(
        (rule, weight)
        for first, second, rule, weight in q.phrase_rules
        if rule is not None and first in counts and second in counts
    )
    return _fp16(LOGIT_FLOOR + LOGIT_SCALE * score / q.total), score, norm, rules


def _tokenized_logit(q: _Query, passage: str) -> float:
    """The logit computed on the passage's tokens: its terms and phrases are counted only for
    the query's (the same sums as counting them all, in the same order)."""
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
    return _fp16(LOGIT_FLOOR + LOGIT_SCALE * score / q.total)


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
