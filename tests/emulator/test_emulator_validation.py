"""Body validation: NVIDIA's 422 problem details (hosted) and the self-hosted 400 error object."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from nim_emulator import EmulatorConfig

from ._support import AUTH, GENERIC, KEY, NEMOTRON, Emu, EmuFactory, body, capture_lines

pytestmark = pytest.mark.anyio

GARAK = "errors/422_validation_nvcf-problem-details_garak-748.reconstructed.json"

INVALID: list[tuple[str, Any, str]] = [
    (
        "query as a string",
        {**body(), "query": "q"},
        "body -> query\n  Input should be a valid dictionary or object to extract fields from "
        "(type=model_attributes_type)",
    ),
    (
        "passages as strings",
        {**body(), "passages": ["a"]},
        "body -> passages -> 0\n  Input should be a valid dictionary or object to extract fields "
        "from (type=model_attributes_type)",
    ),
    (
        "empty passage text",
        body(passages=("ok", "")),
        "body -> passages -> 1 -> text\n  String should have at least 1 character "
        "(type=string_too_short)",
    ),
    (
        "empty query text",
        body(query=""),
        "body -> query -> text\n  String should have at least 1 character (type=string_too_short)",
    ),
    (
        "no passages",
        {**body(), "passages": []},
        "body -> passages\n  List should have at least 1 item after validation, not 0 "
        "(type=too_short)",
    ),
    (
        "bad truncate",
        body(truncate="START"),
        "body -> truncate\n  Input should be 'NONE' or 'END' (type=literal_error)",
    ),
    (
        "unknown field",
        body(top_n=2),
        "body -> top_n\n  Extra inputs are not permitted (type=extra_forbidden)",
    ),
    (
        "unknown field in a passage",
        {**body(), "passages": [{"text": "a", "id": 1}]},
        "body -> passages -> 0 -> id\n  Extra inputs are not permitted (type=extra_forbidden)",
    ),
    (
        "model not a string",
        {**body(), "model": 4},
        "body -> model\n  Input should be a valid string (type=string_type)",
    ),
    (
        "model too long",
        {**body(), "model": "m" * 129},
        "body -> model\n  String should have at most 128 characters (type=string_too_long)",
    ),
    (
        "missing query",
        {"model": "m", "passages": [{"text": "a"}]},
        "body -> query\n  Field required (type=missing)",
    ),
    (
        "body is a list",
        [],
        "body\n  Input should be a valid dictionary or object to extract fields from "
        "(type=model_attributes_type)",
    ),
]


@pytest.mark.parametrize(("case", "payload", "detail"), INVALID, ids=[c[0] for c in INVALID])
async def test_hosted_validation_is_a_422_in_nvidia_problem_details(
    emu: Emu, capture: Callable[[str], bytes], case: str, payload: Any, detail: str
) -> None:
    response = await emu.client.post(GENERIC, json=payload, headers=AUTH)
    data = response.json()
    reference = json.loads(capture(GARAK))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert list(data) == list(reference)
    assert (data["type"], data["title"], data["status"]) == (
        reference["type"],
        reference["title"],
        reference["status"],
    )
    assert data["detail"] == detail
    assert data["instance"].startswith("/v2/nvcf/pexec/functions/")
    assert uuid.UUID(data["requestId"])
    assert response.content.endswith(b"}\n")


async def test_hosted_detail_joins_several_errors_like_the_capture(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    response = await emu.client.post(GENERIC, json=body(a=1, b=2), headers=AUTH)
    reference = json.loads(capture(GARAK))["detail"].split("\n")
    lines = response.json()["detail"].split("\n")
    assert lines == [
        "body -> a",
        "  Extra inputs are not permitted (type=extra_forbidden)",
        "body -> b",
        "  Extra inputs are not permitted (type=extra_forbidden)",
    ]
    assert lines[1] == reference[1]


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"{not json", "body -> 1\n  JSON decode error (type=json_invalid)"),
        (b"\xff\xfe", "body -> 0\n  JSON decode error (type=json_invalid)"),
        (b"", "body\n  Field required (type=missing)"),
    ],
)
async def test_hosted_non_json_body_is_a_422(emu: Emu, content: bytes, detail: str) -> None:
    response = await emu.client.post(GENERIC, content=content, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == detail


async def test_generic_route_unknown_model_is_404_with_the_captured_text(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    response = await emu.rank(model="nvidia/llama-nemotron-rerank-v1-1b")
    captured = capture_lines(capture("errors/404_unknown_model_generic-reranking_fieldnote.txt"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert captured[0] in response.json()["detail"]
    assert response.json() == {
        "status": 404,
        "title": "Not Found",
        "detail": "Unknown model 'nvidia/llama-nemotron-rerank-v1-1b'. Available models are: "
        "['nvidia/rerank-qa-mistral-4b', 'nv-rerank-qa-mistral-4b:1']",
    }


async def test_per_model_route_rejects_another_model_with_404(emu: Emu) -> None:
    response = await emu.rank(NEMOTRON, model="nvidia/rerank-qa-mistral-4b")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "Unknown model 'nvidia/rerank-qa-mistral-4b'. "
        "Available models are: ['nvidia/llama-nemotron-rerank-1b-v2']"
    )


async def test_schema_is_checked_before_the_model(emu: Emu) -> None:
    response = await emu.client.post(
        GENERIC, json={**body(model="unknown"), "query": "q"}, headers=AUTH
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "model", "maximum"),
    [
        (GENERIC, "nvidia/rerank-qa-mistral-4b", 512),
        (
            "/v1/retrieval/nvidia/llama-nemotron-rerank-vl-1b-v2/reranking",
            "nvidia/llama-nemotron-rerank-vl-1b-v2",
            1000,
        ),
    ],
)
async def test_passage_limit_per_model(emu: Emu, path: str, model: str, maximum: int) -> None:
    at_limit = await emu.rank(path, model=model, passages=("p",) * maximum)
    over = await emu.rank(path, model=model, passages=("p",) * (maximum + 1))
    assert at_limit.status_code == 200
    assert len(at_limit.json()["rankings"]) == maximum
    assert over.status_code == 422
    assert over.json()["detail"] == (
        f"body -> passages\n  List should have at most {maximum} items after validation, "
        f"not {maximum + 1} (type=too_long)"
    )


SELF_HOSTED = "nvidia/llama-nemotron-rerank-1b-v2"


async def test_self_hosted_top_k_is_the_captured_400(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    response = await emu.client.post("/v1/ranking", json=body(model=SELF_HOSTED, top_k=3))
    captured = capture_lines(capture("errors/400_native_ranking_unknown_field_litellm-34165.txt"))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert captured[0] == "HTTP 400: " + response.json()["message"]
    assert response.json() == {
        "object": "error",
        "message": "top_k: unknown field, expected one of model, query, passages, truncate",
    }


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {**body(model=SELF_HOSTED), "query": "q"},
            "query: Input should be a valid dictionary or object to extract fields from",
        ),
        (
            body(model=SELF_HOSTED, passages=("a", "")),
            "passages[1].text: String should have at least 1 character",
        ),
        (
            {**body(model=SELF_HOSTED), "query": {"text": "q", "x": 1}},
            "query.x: unknown field, expected text",
        ),
        ([], "body: Input should be a valid dictionary or object to extract fields from"),
    ],
)
async def test_self_hosted_schema_errors_are_400_error_objects(
    emu: Emu, payload: Any, message: str
) -> None:
    response = await emu.client.post("/v1/ranking", json=payload)
    assert response.status_code == 400
    assert response.json() == {"object": "error", "message": message}


async def test_self_hosted_non_json_is_400(emu: Emu) -> None:
    response = await emu.client.post("/v1/ranking", content=b"[1,")
    assert response.status_code == 400
    assert response.json()["message"] == "body: invalid JSON at character 3"


async def test_self_hosted_other_model_is_404(emu: Emu) -> None:
    response = await emu.client.post("/v1/ranking", json=body(model="nvidia/rerank-qa-mistral-4b"))
    assert response.status_code == 404
    assert response.json() == {
        "object": "error",
        "message": "Model 'nvidia/rerank-qa-mistral-4b' not found. "
        "This NIM serves 'nvidia/llama-nemotron-rerank-1b-v2'.",
    }


async def test_self_hosted_passage_limit(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(api_key=KEY))
    response = await emu.client.post(
        "/v1/ranking", json=body(model=SELF_HOSTED, passages=("p",) * 513)
    )
    assert response.status_code == 400
    assert response.json()["message"] == (
        "passages: List should have at most 512 items after validation, not 513"
    )
