"""A token overflow is a TokenLimitError (D-EXT-TOKEN-LIMIT); Go's words stay its message."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from reranker_nvidia import ClassBasedModuleConfig, Client, TokenLimitError, UpstreamError

BASE = "http://nim.test"
NIM_422 = {
    "object": "error",
    "message": "Input length 12007 exceeds maximum allowed token size 8192",
}
NIM_400 = (
    "in ensemble 'nvidia_nv_rerankqa_mistral_4b_v3', "
    "Input length 1024 exceeds maximum allowed token size 512"
)


def cfg(**settings: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": BASE, **settings})


def failing(status: int, body: Any, *, on_chunk: int | None = None, size: int = 512) -> Any:
    """Answers ``status`` with ``body`` (for every chunk, or only the one starting at ``on_chunk``)."""

    def answer(request: httpx.Request) -> httpx.Response:
        passages = json.loads(request.content)["passages"]
        texts = [p["text"] for p in passages]
        if on_chunk is None or texts[0] == f"d{on_chunk}":
            if isinstance(body, str):
                return httpx.Response(status, json={"detail": body})
            return httpx.Response(status, json=body)
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": 0.0} for i in range(len(texts))]}
        )

    return answer


def rank(answer: Any, documents: list[str], **kwargs: Any) -> TokenLimitError:
    with (
        Client("k", transport=httpx.MockTransport(answer), **kwargs) as client,
        pytest.raises(TokenLimitError) as caught,
    ):
        client.rank("q", documents, cfg())
    return caught.value


def test_a_422_overflow_keeps_gos_message_and_suggests_truncate_end() -> None:
    err = rank(failing(422, NIM_422), ["a", "b"])
    assert str(err) == (
        "connection to NVIDIA API failed with status: 422 error: "
        "Input length 12007 exceeds maximum allowed token size 8192"
    )
    assert isinstance(err, UpstreamError)
    assert err.status == 422
    assert (err.input_tokens, err.max_tokens) == (12007, 8192)
    assert err.passage_index is None  # two passages, and the answer does not say which
    assert err.hint == (
        "a passage and the query exceed the model's limit of 8192 tokens (12007): "
        "set truncate END to cut each passage to fit"
    )


def test_a_400_overflow_is_one_too() -> None:
    err = rank(failing(400, NIM_400), ["a"])
    assert str(err) == f"connection to NVIDIA API failed with status: 400 error: {NIM_400}"
    assert err.max_tokens == 512
    assert err.passage_index == 0


def test_a_one_passage_chunk_names_the_passage_in_the_callers_list() -> None:
    documents = [f"d{i}" for i in range(4)]
    err = rank(failing(422, NIM_422, on_chunk=2), documents, max_documents=1, max_concurrency=1)
    assert err.passage_index == 2
    assert err.hint is not None
    assert err.hint.startswith("passage 2 and the query exceed the model's limit of 8192 tokens")


def test_a_fastapi_loc_names_the_passage_in_the_callers_list() -> None:
    body = {
        "detail": [
            {
                "loc": ["body", "passages", 1, "text"],
                "msg": "Input length 600 exceeds maximum allowed token size 512",
            }
        ]
    }
    documents = [f"d{i}" for i in range(6)]
    err = rank(failing(422, body, on_chunk=3), documents, max_documents=3, max_concurrency=1)
    assert err.passage_index == 4  # chunk offset 3 + index 1
    assert str(err).endswith("exceeds maximum allowed token size 512 (document 4)")


def test_with_truncate_set_the_suggestion_ends_the_message() -> None:
    err = rank(failing(422, NIM_422), ["a"], truncate="NONE")
    assert str(err) == (
        "connection to NVIDIA API failed with status: 422 error: "
        "Input length 12007 exceeds maximum allowed token size 8192; "
        "passage 0 and the query exceed the model's limit of 8192 tokens (12007): "
        "set truncate END to cut each passage to fit"
    )


@pytest.mark.parametrize("status", [401, 404, 500])
def test_the_same_words_with_another_status_are_not_a_token_limit(status: int) -> None:
    with (
        Client("k", transport=httpx.MockTransport(failing(status, NIM_422))) as client,
        pytest.raises(UpstreamError) as caught,
    ):
        client.rank("q", ["a"], cfg())
    assert not isinstance(caught.value, TokenLimitError)


def test_another_422_is_not_a_token_limit() -> None:
    answer = failing(422, {"detail": [{"msg": "String should have at least 1 character"}]})
    with (
        Client("k", transport=httpx.MockTransport(answer)) as client,
        pytest.raises(UpstreamError) as caught,
    ):
        client.rank("q", [""], cfg())
    assert type(caught.value) is UpstreamError
    assert caught.value.hint is None
