"""Token limits and truncation: the approximation, the overflow errors, ``truncate: END``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nim_emulator import EmulatorConfig, count_tokens
from nim_emulator._tokens import cut_tokens, fit_pair, word_tokens

from ._support import KEY, NEMOTRON, Emu, EmuFactory, body, capture_lines

pytestmark = pytest.mark.anyio

MISTRAL_V3 = "/v1/retrieval/nvidia/nv-rerankqa-mistral-4b-v3/reranking"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("Library 9-10.", 5),
        ("  spaced   out  ", 2),
        ("a" * 40, 3),
        ("naïve café, 東京!", 5),
    ],
)
def test_token_count_approximation(text: str, count: int) -> None:
    assert count_tokens(text) == count


def test_cut_tokens_keeps_the_original_spacing() -> None:
    assert cut_tokens("one,  two three", 3) == "one,  two"
    assert cut_tokens("one two", 5) == "one two"
    assert cut_tokens("one two", 0) == ""


def test_word_tokens_are_lower_case_without_punctuation() -> None:
    assert word_tokens("Library 9-10.") == ["library", "9", "10"]


def test_fit_pair_cuts_the_passage_first_then_the_query() -> None:
    fit = fit_pair("q1 q2", "p1 p2 p3 p4", 4, cut=True)
    assert (fit.length, fit.used, fit.query, fit.passage) == (6, 4, "q1 q2", "p1 p2")
    fit = fit_pair("q1 q2 q3", "p1", 2, cut=True)
    assert (fit.length, fit.used, fit.query, fit.passage) == (4, 2, "q1 q2", "")
    fit = fit_pair("q1 q2 q3", "p1", 2, cut=False)
    assert (fit.length, fit.used, fit.query, fit.passage) == (4, 4, "q1 q2 q3", "p1")


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


async def test_hosted_overflow_is_a_400_with_the_captured_message(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    # query "q" is 1 token; passage 1 is 512 tokens: the pair is 513 > 512
    response = await emu.rank(
        MISTRAL_V3, model="nvidia/nv-rerankqa-mistral-4b-v3", query="q", passages=("ok", words(512))
    )
    captured = capture("errors/400_selfhosted_token_overflow_nim-anywhere-58.log").decode()
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "status": 400,
        "title": "Bad Request",
        "detail": "Input length 513 exceeds maximum allowed token size 512",
    }
    assert "Input length 1024 exceeds maximum allowed token size 512" in captured


async def test_pair_at_the_limit_is_accepted(emu: Emu) -> None:
    response = await emu.rank(
        MISTRAL_V3, model="nvidia/nv-rerankqa-mistral-4b-v3", query="q", passages=(words(511),)
    )
    assert response.status_code == 200


async def test_truncate_end_scores_the_cut_text(emu: Emu) -> None:
    # the only query word is past the cut, so the cut passage scores like a non-match
    long_passage = words(600) + " needle"
    cut = await emu.rank(
        MISTRAL_V3,
        model="nvidia/nv-rerankqa-mistral-4b-v3",
        query="needle",
        passages=(long_passage, "needle here"),
        truncate="END",
    )
    assert cut.status_code == 200
    logits = {r["index"]: r["logit"] for r in cut.json()["rankings"]}
    assert logits[0] == -11.5
    assert logits[1] > logits[0]


async def test_explicit_truncate_none_overrides_a_default_of_end(emu: Emu) -> None:
    # the generic route's model truncates by default; NONE makes the overflow an error
    default = await emu.rank(passages=(words(600),))
    explicit = await emu.rank(passages=(words(600),), truncate="NONE")
    assert default.status_code == 200
    assert explicit.status_code == 400


async def test_query_alone_over_the_limit_is_cut_with_truncate_end(emu: Emu) -> None:
    response = await emu.rank(
        MISTRAL_V3,
        model="nvidia/nv-rerankqa-mistral-4b-v3",
        query=words(700) + " needle",
        passages=("needle",),
        truncate="END",
    )
    assert response.status_code == 200
    assert response.json()["rankings"][0]["logit"] == -11.5


async def test_llama_models_allow_8192_tokens(emu: Emu) -> None:
    model = "nvidia/llama-nemotron-rerank-1b-v2"
    ok = await emu.rank(NEMOTRON, model=model, query="q", passages=(words(8191),))
    over = await emu.rank(NEMOTRON, model=model, query="q", passages=(words(8192),))
    assert ok.status_code == 200
    assert over.status_code == 400
    assert over.json()["detail"] == "Input length 8193 exceeds maximum allowed token size 8192"


async def test_self_hosted_llama_overflow_is_the_captured_422(
    make_emu: EmuFactory, capture: Callable[[str], bytes]
) -> None:
    emu = await make_emu(EmulatorConfig(api_key=KEY))
    response = await emu.client.post(
        "/v1/ranking",
        json=body(model="nvidia/llama-nemotron-rerank-1b-v2", query="q", passages=(words(8192),)),
    )
    captured = capture_lines(
        capture("errors/422_selfhosted_token_overflow_langchain-nvidia-PR299.txt")
    )
    assert response.status_code == 422
    assert captured[0].startswith('{"object":"error","message":"Input length ')
    assert response.content == (
        b'{"object":"error","message":"Input length 8193 exceeds maximum allowed token size 8192"}'
    )


async def test_self_hosted_mistral_v3_overflow_is_400(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(self_hosted_model="nvidia/nv-rerankqa-mistral-4b-v3"))
    response = await emu.client.post(
        "/v1/ranking",
        json=body(model="nvidia/nv-rerankqa-mistral-4b-v3", query="q", passages=(words(1023),)),
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Input length 1024 exceeds maximum allowed token size 512"


async def test_self_hosted_unknown_model_id_gets_8192_tokens(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(self_hosted_model="acme/custom-reranker"))
    ok = await emu.client.post(
        "/v1/ranking", json=body(model="acme/custom-reranker", query="q", passages=(words(8191),))
    )
    over = await emu.client.post(
        "/v1/ranking", json=body(model="acme/custom-reranker", query="q", passages=(words(8192),))
    )
    assert (ok.status_code, over.status_code) == (200, 422)


async def test_usage_counts_the_tokens_actually_scored(make_emu: EmuFactory) -> None:
    emu = await make_emu(
        EmulatorConfig(self_hosted_model="nvidia/nv-rerankqa-mistral-4b-v3", include_usage=True)
    )
    response = await emu.client.post(
        "/v1/ranking",
        json=body(
            model="nvidia/nv-rerankqa-mistral-4b-v3",
            query="q r",
            passages=(words(600), "short one"),
            truncate="END",
        ),
    )
    assert response.json()["usage"] == {"prompt_tokens": 512 + 4, "total_tokens": 512 + 4}
