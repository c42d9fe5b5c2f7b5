"""Scoring: deterministic, query-aware, FP16-exact, sorted descending with ties by index."""

from __future__ import annotations

import itertools
import json
import random
import struct
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nim_emulator import pair_logit, rank_passages
from nim_emulator._scoring import LOGIT_FLOOR, to_fp16

from ._support import NEMOTRON, Emu

pytestmark = pytest.mark.anyio


def fp16_exact(value: float) -> bool:
    return bool(struct.unpack("<e", struct.pack("<e", value))[0] == value)


def test_captured_logits_are_fp16_exact_and_the_check_can_fail() -> None:
    assert all(fp16_exact(x) for x in (-12.28125, -4.1015625, 0.7646484375, -1.1044921875))
    assert not fp16_exact(0.1)


def test_to_fp16_rounds_and_clamps() -> None:
    assert to_fp16(0.1) == 0.0999755859375
    assert to_fp16(1e9) == 65504.0
    assert to_fp16(-1e9) == -65504.0


def test_matching_passage_beats_non_matching_one() -> None:
    query = "What are the library hours?"
    assert pair_logit(query, "Library 9-10.") > pair_logit(query, "Cafeteria 8-8.")
    assert pair_logit(query, "Cafeteria 8-8.") == LOGIT_FLOOR


def test_stop_words_weigh_less_than_content_words() -> None:
    query = "the library"
    assert pair_logit(query, "library") > pair_logit(query, "the")


def test_score_of_a_pair_does_not_depend_on_the_other_passages() -> None:
    alone = rank_passages("red apple", ["a red apple"])
    together = rank_passages("red apple", ["green pear", "a red apple", "apple"])
    assert alone[0][1] == dict(together)[1]


def test_empty_query_words_give_the_floor() -> None:
    assert pair_logit("?!", "anything") == LOGIT_FLOOR


def test_ties_are_ordered_by_index() -> None:
    ranked = rank_passages("zzz", ["a", "b", "c"])
    assert [i for i, _ in ranked] == [0, 1, 2]


texts = st.text(alphabet=st.sampled_from("abc de,.!XY"), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(query=texts, passages=st.lists(texts, min_size=1, max_size=12))
def test_rankings_are_a_sorted_fp16_permutation(query: str, passages: list[str]) -> None:
    ranked = rank_passages(query, passages)
    assert sorted(i for i, _ in ranked) == list(range(len(passages)))
    assert all(fp16_exact(logit) for _, logit in ranked)
    keys = [(-logit, index) for index, logit in ranked]
    assert keys == sorted(keys)
    assert ranked == rank_passages(query, passages)


async def test_same_request_gives_byte_identical_bodies(emu: Emu) -> None:
    kwargs = {
        "model": "nvidia/llama-nemotron-rerank-1b-v2",
        "query": "how do roads diverge",
        "passages": ("two roads diverged in a wood", "a sigh", "roads, roads and more roads"),
    }
    first = await emu.rank(NEMOTRON, **kwargs)
    second = await emu.rank(NEMOTRON, **kwargs)
    assert first.status_code == 200
    assert first.content == second.content
    assert first.headers["nvcf-reqid"] != second.headers["nvcf-reqid"]


async def test_served_logits_are_fp16_exact_and_sorted(emu: Emu) -> None:
    response = await emu.rank(
        query="which way should i go",
        passages=("two roads", "which way is best", "go this way, go", "unrelated", "way way way"),
    )
    rankings = json.loads(response.content)["rankings"]
    assert all(fp16_exact(r["logit"]) for r in rankings)
    assert [r["logit"] for r in rankings] == sorted((r["logit"] for r in rankings), reverse=True)
    assert sorted(r["index"] for r in rankings) == [0, 1, 2, 3, 4]
    assert rankings[-1]["index"] == 3
    assert any(r["logit"] > 0 for r in rankings)
    assert any(r["logit"] < 0 for r in rankings)


def test_light_stemming_matches_plurals_and_verb_s() -> None:
    query = "When is the library open?"
    assert pair_logit(query, "It opens at nine.") > pair_logit(query, "It closes at nine.")
    assert pair_logit("sand dune", "a sea of dunes") == pair_logit("sand dune", "a sea of dune")
    assert pair_logit("desert planets", "one planet") > LOGIT_FLOOR
    assert pair_logit("berries", "a berry") == pair_logit("berry", "a berry")


def test_a_query_phrase_in_order_beats_the_same_words_apart() -> None:
    query = "a desert planet"
    together = pair_logit(query, "they land on the desert planet at night with a map")
    apart = pair_logit(query, "they land on the planet at night with a desert map")
    assert together > apart > LOGIT_FLOOR


def test_a_passage_about_the_query_beats_one_that_only_shares_its_common_words() -> None:
    query = "Which novel is set on a desert planet that is the only source of the spice?"
    dune = (
        "On the desert planet Arrakis, the only source of the spice melange, young Paul "
        "Atreides survives betrayal and leads the Fremen in revolt."
    )
    messiah = (
        "Twelve years after his victory on the desert planet Arrakis, Paul Atreides rules an "
        "empire and foresees the conspiracies that will bring him down."
    )
    cookery = (
        "Recipes from desert kitchens: saffron, cumin and the spice trade routes that crossed "
        "the Sahara."
    )
    guide = (
        "A travel guide to deserts of the world, with maps of dunes, oases and spice markets "
        "in North Africa and Arabia."
    )
    spiders = (
        "The last humans flee a dying Earth and find a terraformed planet where uplifted "
        "spiders have built a civilisation."
    )
    ranked = [i for i, _ in rank_passages(query, [spiders, guide, cookery, messiah, dune])]
    assert ranked[:2] == [4, 3]


@pytest.mark.parametrize("compact", [True, False])
def test_rankings_are_rendered_as_json_dumps_renders_them(compact: bool) -> None:
    from nim_emulator._wire import render_json, render_rankings

    rng = random.Random(5)
    for _ in range(200):
        scores = [
            (rng.randrange(600), to_fp16(rng.uniform(-20, 20))) for _ in range(rng.randint(1, 30))
        ]
        scores += [(1, 0.0), (2, -0.0), (3, -0.0), (4, 0.0), (5, 65504.0), (6, 1e-7)]
        usage = rng.choice([None, {"prompt_tokens": 3, "total_tokens": 3}])
        payload: dict[str, object] = {"rankings": [{"index": i, "logit": x} for i, x in scores]}
        if usage is not None:
            payload["usage"] = usage
        assert render_rankings(scores, compact=compact, usage=usage) == render_json(
            payload, compact=compact
        )


def reference_logit(query: str, passage: str) -> float:
    """The docstring's formula written plainly, with every term counted (a Counter)."""
    from nim_emulator._scoring import (
        AVERAGE_LENGTH,
        K1,
        LOGIT_SCALE,
        PHRASE_WEIGHT,
        STOP_WEIGHT,
        STOP_WORDS,
        B,
        stem,
    )
    from nim_emulator._tokens import word_tokens

    terms: dict[str, float] = {}
    for word in word_tokens(query):
        weight = STOP_WEIGHT if word in STOP_WORDS else 1.0
        terms[stem(word)] = max(weight, terms.get(stem(word), 0.0))
    total = sum(terms.values())
    if total == 0.0:
        return to_fp16(LOGIT_FLOOR)

    def phrases(text: str) -> list[tuple[str, str]]:
        return list(itertools.pairwise(stem(w) for w in word_tokens(text) if w not in STOP_WORDS))

    words = [stem(w) for w in word_tokens(passage)]
    counts, pairs = Counter(words), Counter(phrases(passage))
    norm = K1 * (1.0 - B + B * len(words) / AVERAGE_LENGTH)
    score = 0.0
    for term, weight in terms.items():
        if counts[term]:
            score += weight * counts[term] * (K1 + 1.0) / (counts[term] + norm)
    for pair in dict.fromkeys(phrases(query)):
        if pairs[pair]:
            score += PHRASE_WEIGHT * pairs[pair] * (K1 + 1.0) / (pairs[pair] + norm)
    return to_fp16(LOGIT_FLOOR + LOGIT_SCALE * score / total)


WORDS = st.sampled_from(
    [
        "the",
        "a",
        "of",
        "is",
        "desert",
        "planet",
        "dune",
        "dunes",
        "spice",
        "berries",
        "opens",
        "open",
        "way",
        "go",
        "road",
        "roads",
        "9-10.",
        "Dune,",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=8), st.lists(WORDS, max_size=60))
def test_pair_logit_is_the_plain_formula(query: list[str], passage: list[str]) -> None:
    assert pair_logit(" ".join(query), " ".join(passage)) == reference_logit(
        " ".join(query), " ".join(passage)
    )
