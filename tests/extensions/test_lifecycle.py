"""A model's end of life (D-EXT-LIFECYCLE): a 410, and Deprecation/Sunset headers."""

from __future__ import annotations

import json
import warnings
from typing import Any

import httpx
import pytest

from reranker_nvidia import (
    ClassBasedModuleConfig,
    Client,
    ModelDeprecationWarning,
    ModelRetiredError,
    UpstreamError,
)
from reranker_nvidia.extensions.lifecycle import deprecation_text

BASE = "http://nim.test"
GONE = {
    "type": "about:blank",
    "title": "Gone",
    "status": 410,
    "detail": "The model 'nvidia/llama-3.2-nv-rerankqa-1b-v2' has reached its end of life on "
    "2026-05-18T00:00:00Z and is no longer available.",
}
MODEL = "nvidia/llama-3.2-nv-rerankqa-1b-v2"
SUCCESSOR = (
    "; its successor is nvidia/llama-nemotron-rerank-1b-v2 "
    "(for images, nvidia/llama-nemotron-rerank-vl-1b-v2)"
)
"""What the successor table adds for MODEL (tests/extensions/test_successors.py)."""


def cfg(model: str = MODEL) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": BASE, "model": model})


def gone(request: httpx.Request) -> httpx.Response:
    return httpx.Response(410, json=GONE, headers={"Content-Type": "application/problem+json"})


def retired(**kwargs: Any) -> ModelRetiredError:
    with (
        Client("k", transport=httpx.MockTransport(gone), **kwargs) as client,
        pytest.raises(ModelRetiredError) as caught,
    ):
        client.rank("q", ["a"], cfg())
    return caught.value


def test_a_410_keeps_its_message_by_default() -> None:
    err = retired()
    assert str(err) == f"connection to NVIDIA API failed with status: 410 error: {GONE['detail']}"
    assert isinstance(err, UpstreamError)
    assert (err.model, err.retired_on, err.status) == (MODEL, "2026-05-18", 410)
    assert err.hint == (
        f"model {MODEL} was retired on 2026-05-18 and is no longer available{SUCCESSOR}"
    )


def test_with_an_endpoint_set_a_410_is_one_plain_line() -> None:
    err = retired(endpoint="model")
    assert str(err) == (
        "connection to NVIDIA API failed with status: 410 error: "
        f"model {MODEL} was retired on 2026-05-18 and is no longer available{SUCCESSOR}"
    )


def test_a_bare_410_says_no_date() -> None:
    def bare(request: httpx.Request) -> httpx.Response:
        return httpx.Response(410)

    with (
        Client("k", transport=httpx.MockTransport(bare)) as client,
        pytest.raises(ModelRetiredError) as caught,
    ):
        client.rank("q", ["a"], cfg())
    assert str(caught.value) == "connection to NVIDIA API failed with status: 410"
    assert caught.value.retired_on is None
    assert caught.value.hint == f"model {MODEL} was retired and is no longer available{SUCCESSOR}"


def announcing(**headers: str) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        count = len(json.loads(request.content)["passages"])
        return httpx.Response(
            200,
            json={"rankings": [{"index": i, "logit": 1.0} for i in range(count)]},
            headers=headers,
        )

    return answer


def test_a_deprecation_header_warns_once_per_model_per_client() -> None:
    answer = announcing(Deprecation="@1779062400")
    with Client("k", transport=httpx.MockTransport(answer), max_documents=1) as client:
        with pytest.warns(ModelDeprecationWarning) as caught:
            client.rank("q", ["a", "b", "c"], cfg())
            client.rank("q", ["a"], cfg())
        assert [str(w.message) for w in caught] == [
            f"model {MODEL} is deprecated since 2026-05-18 00:00:00 UTC "
            f"(Deprecation/Sunset response headers){SUCCESSOR}"
        ]
        with pytest.warns(ModelDeprecationWarning, match="^model other/m is deprecated"):
            client.rank("q", ["a"], cfg("other/m"))
    with (
        Client("k", transport=httpx.MockTransport(answer)) as fresh,
        pytest.warns(ModelDeprecationWarning),
    ):
        fresh.rank("q", ["a"], cfg())


def test_a_sunset_header_names_the_date() -> None:
    answer = announcing(Sunset="Mon, 18 May 2026 00:00:00 GMT")
    with (
        Client("k", transport=httpx.MockTransport(answer)) as client,
        pytest.warns(ModelDeprecationWarning) as caught,
    ):
        client.rank("q", ["a"], cfg())
    assert str(caught[0].message) == (
        f"model {MODEL} will be retired after Mon, 18 May 2026 00:00:00 GMT "
        f"(Deprecation/Sunset response headers){SUCCESSOR}"
    )


def test_no_header_no_warning() -> None:
    with (
        Client("k", transport=httpx.MockTransport(announcing())) as client,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        result = client.rank("q", ["a"], cfg())
    assert [s.score for s in result.document_scores] == [1.0]


@pytest.mark.parametrize(
    ("deprecation", "sunset", "text"),
    [
        ("true", None, "model m is deprecated (Deprecation/Sunset response headers)"),
        ("@0", "Sat, 01 Jan 2000 00:00:00 GMT", "model m is deprecated since 1970-01-01 00:00:00 "
         "UTC and will be retired after Sat, 01 Jan 2000 00:00:00 GMT (Deprecation/Sunset "
         "response headers)"),
        ("Sun, 11 Nov 2029 23:59:59 GMT", None, "model m is deprecated since Sun, 11 Nov 2029 "
         "23:59:59 GMT (Deprecation/Sunset response headers)"),
    ],
)  # fmt: skip
def test_deprecation_text(deprecation: str, sunset: str | None, text: str) -> None:
    assert deprecation_text("m", deprecation, sunset) == text
