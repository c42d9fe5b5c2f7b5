"""Scoring: deterministic, query-aware, FP16-exact, sorted descending with ties by index."""

from __future__ import annotations

import json
import struct

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
