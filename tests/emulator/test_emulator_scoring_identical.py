"""The emulator's scores are pinned bit for bit: the scoring of commit ``497d331`` is the oracle.

The contract suite's cassettes and cases depend on the exact logits, so any
speed-up of ``nim_emulator._scoring`` (or of the word tokens it reads) must give
identical floats (``==``) and identical rankings for every input. The oracle
below is that scoring copied as it was, kept here on purpose and never
imported from the package; it is compared with the package on fixed corpora
(every string of ``contracts/`` and ``cassettes/``, the benchmark's passages)
and on Hypothesis-generated input: unicode, case folding that changes length,
words over 16 characters, every suffix the stemmer looks at, stop words,
phrases, empty-ish and long passages, image-only passages, ``hash`` scoring.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import random
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nim_emulator import _scoring, _tokens

ROOT = Path(__file__).resolve().parents[2]

# ---- the oracle: nim_emulator/_tokens.word_tokens and nim_emulator/_scoring as of 497d331 ----

_O_WORD: Final = re.compile(r"\w{1,16}")


def o_word_tokens(text: str) -> list[str]:
    return _O_WORD.findall(text.lower())


O_K1: Final = 1.2
O_B: Final = 0.75
O_AVERAGE_LENGTH: Final = 64.0
O_STOP_WEIGHT: Final = 0.1
O_PHRASE_WEIGHT: Final = 1.0
O_LOGIT_FLOOR: Final = -11.5
O_LOGIT_SCALE: Final = 12.5
O_FP16_MAX: Final = 65504.0
O_HASH_LOW: Final = -12.0
O_HASH_SPAN: Final = 16.0
O_STOP_WORDS: Final = frozenset(
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
def o_stem(word: str) -> str:
    if len(word) < 4:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def o_phrases(text: str) -> list[tuple[str, str]]:
    content = [o_stem(word) for word in o_word_tokens(text) if word not in O_STOP_WORDS]
    return list(itertools.pairwise(content))


def o_to_fp16(value: float) -> float:
    clamped = min(O_FP16_MAX, max(-O_FP16_MAX, value))
    result: float = struct.unpack("<e", struct.pack("<e", clamped))[0]
    return result


@dataclass(frozen=True)
class OQuery:
    terms: tuple[tuple[str, float], ...]
    phrases: tuple[tuple[tuple[str, str], float], ...]
    total: float


def o_query(query: str) -> OQuery:
    terms: dict[str, float] = {}
    for word in o_word_tokens(query):
        weight = O_STOP_WEIGHT if word in O_STOP_WORDS else 1.0
        key = o_stem(word)
        terms[key] = max(weight, terms.get(key, 0.0))
    phrases = dict.fromkeys(o_phrases(query), O_PHRASE_WEIGHT)
    return OQuery(tuple(terms.items()), tuple(phrases.items()), sum(terms.values()))


def o_saturated(tf: int, norm: float) -> float:
    return tf * (O_K1 + 1.0) / (tf + norm)


def o_pair_logit(query: str, passage: str) -> float:
    q = o_query(query)
    if q.total == 0.0:
        return o_to_fp16(O_LOGIT_FLOOR)
    words = o_word_tokens(passage)
    stems = [o_stem(word) for word in words]
    norm = O_K1 * (1.0 - O_B + O_B * len(stems) / O_AVERAGE_LENGTH)
    score = 0.0
    for term, weight in q.terms:
        tf = stems.count(term)
        if tf:
            score += weight * o_saturated(tf, norm)
    if q.phrases:
        content = [s for word, s in zip(words, stems, strict=True) if word not in O_STOP_WORDS]
        pairs = list(itertools.pairwise(content))
        for pair, weight in q.phrases:
            tf = pairs.count(pair)
            if tf:
                score += weight * o_saturated(tf, norm)
    return o_to_fp16(O_LOGIT_FLOOR + O_LOGIT_SCALE * score / q.total)


def o_best_first(logits: list[float]) -> list[tuple[int, float]]:
    order = sorted(range(len(logits)), key=logits.__getitem__, reverse=True)
    return [(index, logits[index]) for index in order]


def o_rank_passages(query: str, passages: Sequence[str]) -> list[tuple[int, float]]:
    return o_best_first([o_pair_logit(query, text) for text in passages])


O_HASH_STEPS: Final = 4096
O_HASH_TABLE: Final = tuple(
    o_to_fp16(O_HASH_LOW + O_HASH_SPAN * (step + 0.5) / O_HASH_STEPS)
    for step in range(O_HASH_STEPS)
)


def o_hash_logit(query: str, passage: str) -> float:
    seed = zlib.crc32(query.encode() + b"\x00")
    return O_HASH_TABLE[zlib.crc32(passage.encode(), seed) % O_HASH_STEPS]


def o_rank_mixed(
    query: str, texts: Sequence[str | None], images: Sequence[str | None] | None, *, hashed: bool
) -> list[tuple[int, float]]:
    logits: list[float] = []
    for index, text in enumerate(texts):
        if text is None:
            image = images[index] if images is not None else None
            logits.append(o_hash_logit(query, image or ""))
        elif hashed:
            logits.append(o_hash_logit(query, text))
        else:
            logits.append(o_pair_logit(query, text))
    return o_best_first(logits)


def o_relevance_score(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


# ---- comparison helpers ----------------------------------------------------------------------


def same_floats(got: Sequence[tuple[int, float]], want: Sequence[tuple[int, float]]) -> bool:
    """Equal rankings, floats compared with ``==`` and by sign (``0.0`` is not ``-0.0``)."""
    return len(got) == len(want) and all(
        gi == wi and gx == wx and math.copysign(1.0, gx) == math.copysign(1.0, wx)
        for (gi, gx), (wi, wx) in zip(got, want, strict=True)
    )


def assert_identical(query: str, passages: Sequence[str]) -> None:
    want = o_rank_passages(query, passages)
    got = _scoring.rank_passages(query, passages)
    assert same_floats(got, want), (query, passages, got, want)
    for text in passages[:8]:
        assert _scoring.pair_logit(query, text) == o_pair_logit(query, text), (query, text)
    images: list[str | None] = [None] * len(passages)
    assert same_floats(
        _scoring.rank_mixed(query, list(passages), images, hashed=False),
        o_rank_mixed(query, list(passages), images, hashed=False),
    )


# ---- fixed corpora ---------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON/YAML document, and in JSON bodies held as strings."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value
        if value[:1] in "{[":
            with contextlib.suppress(ValueError):
                yield from _strings(json.loads(value))


@functools.cache
def repository_strings() -> tuple[str, ...]:
    """Every string of contracts/ and cassettes/ (cases, captures, cassettes), sorted."""
    found: set[str] = set()
    for folder in ("contracts", "cassettes"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix == ".json":
                found.update(_strings(json.loads(path.read_text(encoding="utf-8"))))
            elif path.suffix in (".yaml", ".yml"):
                for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                    found.update(_strings(document))
            elif path.suffix == ".txt":
                found.update(path.read_text(encoding="utf-8").splitlines())
    return tuple(sorted(found))


def test_the_repository_corpus_is_large_and_varied() -> None:
    corpus = repository_strings()
    assert len(corpus) > 1000
    assert any(not text.isascii() for text in corpus)
    assert any(len(text) > 1000 for text in corpus)


FIXED_QUERIES = (
    "What are the library hours?",
    "which way should i go?",
    "which gpu has the highest memory bandwidth",
    "Which novel is set on a desert planet that is the only source of the spice?",
    "café ☕ İstanbul STRASSE straße",
    "the of a is",
    "?!",
    "",
    "x" * 40 + " berries opens dunes bus boss trees does",
    "rerank the passages by relevance to the query",
)


def test_every_repository_string_scores_identically_for_every_query() -> None:
    corpus = list(repository_strings())
    queries = [*FIXED_QUERIES, *corpus[::211]]
    for query in queries:
        assert_identical(query, corpus)


def test_the_benchmark_passages_score_identically() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import emulator_cpu
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    texts = emulator_cpu.passages(1500)
    for query in (
        "which gpu has the highest memory bandwidth",
        "gpu memory gpu memory bandwidth",
        "memory bandwidth",
        "tensor core latency throughput",
    ):
        assert_identical(query, texts)


def test_long_and_repetitive_passages_score_identically() -> None:
    rng = random.Random(21)
    vocabulary = [
        "the",
        "desert",
        "planet",
        "dune",
        "dunes",
        "spice",
        "berries",
        "berry",
        "opens",
        "open",
        "of",
        "is",
        "a",
        "way",
    ]
    passages = [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 5000))) for _ in range(30)
    ]
    passages += ["spice " * 3000, "desert planet " * 2000, "x" * 100_000, "é" * 50_000, " " * 9]
    for query in ("a desert planet", "spice spice spice", "the", "berries open way of dunes"):
        assert_identical(query, passages)


def test_passages_whose_query_words_run_together_score_identically() -> None:
    # "x y" and "xy zz" hold the same letters of query words in as many words: whatever
    # remembers a passage's words must tell them apart.
    for query in ("x y xy", "gpu s gpus", "ab c a bc"):
        words = query.split()
        passages = [" ".join(words[:2]), f"{''.join(words[:2])} zz", "zz " + " ".join(words)]
        assert_identical(query, passages)
        assert_identical(query, passages[::-1])


def test_images_and_hash_scoring_score_identically() -> None:
    rng = random.Random(8)
    query = "which way should i go"
    texts: list[str | None] = []
    images: list[str | None] = []
    for i in range(400):
        if rng.random() < 0.4:
            texts.append(None)
            images.append(rng.choice(["", f"data:image/png;base64,{'QUJD' * (i % 7)}"]))
        else:
            texts.append(rng.choice(["go this way", "which way", "nothing", "é way ☕", "x"]) * i)
            images.append(rng.choice([None, "data:image/jpeg;base64,AAAA"]))
    for hashed in (False, True):
        assert same_floats(
            _scoring.rank_mixed(query, texts, images, hashed=hashed),
            o_rank_mixed(query, texts, images, hashed=hashed),
        )
    only_text = [t or "" for t in texts]
    for hashed in (False, True):
        assert same_floats(
            _scoring.rank_mixed(query, only_text, None, hashed=hashed),
            o_rank_mixed(query, only_text, None, hashed=hashed),
        )
    for text in only_text[:50]:
        assert _scoring.hash_logit(query, text) == o_hash_logit(query, text)
    for logit in (-12.0, -11.5, -0.0, 0.0, 3.99, 30.5, 65504.0):
        assert _scoring.relevance_score(logit) == o_relevance_score(logit)


# ---- generated input -------------------------------------------------------------------------

# Pieces chosen to reach every branch: stop words; the stemmer's suffixes (-ies, -eies, -aies,
# -es, -aes, -ees, -oes, -s, -us, -ss) and words of 3 and 4 letters; words of 16, 17 and 33
# characters; digits and underscores; scripts whose lower case is longer (İ), or ASCII (the
# Kelvin sign), or whose \w differs from ASCII's (Arabic digits, ligatures, combining marks).
PIECES = [
    *sorted(O_STOP_WORDS),
    # What the stemmer's rules turn words into, so that a wrong rule changes a match.
    *["ay", "ey", "aie", "eie", "berrie", "doe", "bu", "bo", "tre", "toe", "planetss"],
    *["ys", "us", "ss", "ies", "es", "s", "yies", "uses", "sses", "bossess", "bussy"],
    *["virus", "viru", "class", "clas", "gas", "ga", "ties", "tie", "ty", "axes", "axe"],
    *[
        "desert",
        "planet",
        "planets",
        "dune",
        "dunes",
        "spice",
        "berry",
        "berries",
        "eies",
        "aies",
        "bees",
        "toes",
        "aloes",
    ],
    *[
        "opens",
        "open",
        "bus",
        "buses",
        "boss",
        "bosses",
        "trees",
        "tree",
        "goes",
        "does",
        "this",
        "thi",
        "way",
        "ways",
        "cats",
        "cat",
    ],
    *[
        "gpu",
        "memory",
        "bandwidth",
        "has",
        "highest",
        "tensor",
        "Desert",
        "PLANET",
        "Dunes",
        "OPENS",
    ],
    "a" * 16,
    "b" * 17,
    "ies" * 11,
    "x_1",
    "9-10.",
    "3.14",
    "__",
    "café",
    "İstanbul",
    "\u212a",  # KELVIN SIGN, lower-cases to ASCII "k"
    "ǅungla",
    "STRAẞE",
    "ΣΑΣ",
    "١٢٣",
    "ﬁre",
    "e\u0301té",
    "日本語の文章",
    "☕",
    "😀",
]
SEPARATORS = [" ", " ", " ", ", ", ". ", "\n", "\t", "-", "'", "\u2028", "\x1c", "\u00a0", ""]

piece_text = st.lists(
    st.tuples(st.sampled_from(PIECES), st.sampled_from(SEPARATORS)), max_size=40
).map(lambda parts: "".join(word + sep for word, sep in parts))
small_words = st.text(alphabet="aeiousySI", min_size=1, max_size=7)
suffix_text = st.lists(small_words, max_size=30).map(" ".join)
any_text = st.text(max_size=80)
texts = st.one_of(piece_text, piece_text, suffix_text, any_text)


@st.composite
def shared_vocabulary(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A query and passages written with a few pieces, so that their words often meet."""
    vocabulary = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6))
    # A word and what the stemmer's rules make of it or could have made it from.
    for base in draw(st.lists(st.text(alphabet="aeiousyrt", min_size=1, max_size=6), max_size=2)):
        ends = ("", "s", "es", "ies", "us", "ss", "y", "e")
        vocabulary += [base + end for end in ends] + [base[:-1] + end for end in ends]
    words = st.sampled_from(vocabulary)
    sentence = st.lists(st.tuples(words, st.sampled_from(SEPARATORS)), max_size=25).map(
        lambda parts: "".join(word + sep for word, sep in parts)
    )
    return draw(sentence), draw(st.lists(sentence, min_size=1, max_size=12))


@settings(max_examples=400, deadline=None)
@given(query=texts, passages=st.lists(texts, min_size=1, max_size=30))
@example(query="desert planet", passages=["the desert planet", "planet desert", ""])
@example(query="Dunes", passages=["dune", "DUNES", "dunes_", "\u212aelvin"])
@example(  # a word that stems to a phrase's word but is a stop word ("does", "this")
    query="doe deer thi planet",
    passages=["does deer", "doe does deer", "this planet", "thi the planet", "doe deer"],
)
def test_generated_input_scores_identically(query: str, passages: list[str]) -> None:
    assert_identical(query, passages)


@settings(max_examples=400, deadline=None)
@given(shared_vocabulary())
def test_generated_input_on_a_shared_vocabulary_scores_identically(
    case: tuple[str, list[str]],
) -> None:
    assert_identical(*case)


@settings(max_examples=300, deadline=None)
@given(st.one_of(texts, st.text(max_size=300)))
def test_word_tokens_are_unchanged(text: str) -> None:
    assert _tokens.word_tokens(text) == o_word_tokens(text)


@settings(max_examples=200, deadline=None)
@given(query=texts, passages=st.lists(st.one_of(texts, st.none()), min_size=1, max_size=20))
def test_generated_mixed_input_scores_identically(query: str, passages: list[str | None]) -> None:
    images: list[str | None] = [
        None if text is not None else f"data:image/png;base64,{i}"
        for i, text in enumerate(passages)
    ]
    for hashed in (False, True):
        assert same_floats(
            _scoring.rank_mixed(query, passages, images, hashed=hashed),
            o_rank_mixed(query, passages, images, hashed=hashed),
        )


@pytest.mark.parametrize("word", ["berries", "eies", "aies", "buses", "trees", "bus", "boss"])
def test_stem_is_unchanged(word: str) -> None:
    assert _scoring.stem(word) == o_stem(word)


# ---- the fast path's building blocks -----------------------------------------------------------

ascii_words = st.text(alphabet="abeiorsuy_19", min_size=1, max_size=18)


@settings(max_examples=300, deadline=None)
@given(st.lists(ascii_words, min_size=1, max_size=8), st.lists(ascii_words, max_size=20))
def test_the_word_alternation_matches_exactly_its_words(
    words: list[str], others: list[str]
) -> None:
    pattern = re.compile(_scoring._alternation(words))
    for word in [*words, *others]:
        assert bool(pattern.fullmatch(word)) == (word in words), (words, word)


@settings(max_examples=500, deadline=None)
@given(ascii_words)
def test_every_word_a_term_stems_from_is_one_of_its_surfaces(word: str) -> None:
    term = o_stem(word)
    surfaces = _scoring._surfaces(term)
    assert all(o_stem(surface) == term for surface in surfaces)
    assert (word in surfaces) == (len(word) <= 16), (word, term, surfaces)
