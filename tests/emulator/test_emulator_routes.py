"""Routes: success answers, the self-hosted routes, and 404s, in-process and on a socket."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from nim_emulator import EmulatorConfig

from ._support import AUTH, GENERIC, KEY, NEMOTRON, Emu, EmuFactory, body, capture_lines

pytestmark = pytest.mark.anyio

HOSTED_SUCCESS_REQUEST = "success/hosted_generic-reranking_rerank-qa-mistral-4b.request.json"
HOSTED_SUCCESS_RESPONSE = "success/hosted_generic-reranking_rerank-qa-mistral-4b.response.json"


async def test_hosted_generic_answers_the_captured_request_with_the_captured_bytes(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    # given the real request of the hosted capture
    request = capture(HOSTED_SUCCESS_REQUEST)
    # when it is sent to the generic route
    response = await emu.client.post(
        GENERIC, content=request, headers={**AUTH, "Content-Type": "application/json"}
    )
    # then the answer is the captured body, byte for byte (without the file's final newline)
    assert response.status_code == 200
    assert response.content == capture(HOSTED_SUCCESS_RESPONSE).rstrip(b"\n")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["nvcf-status"] == "fulfilled"
    assert uuid.UUID(response.headers["nvcf-reqid"])


async def test_hosted_answer_has_the_capture_shape_and_spacing(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    response = await emu.rank(query="go the way")
    captured = json.loads(capture(HOSTED_SUCCESS_RESPONSE))
    data = response.json()
    assert response.status_code == 200
    assert data.keys() == captured.keys()
    assert [list(entry) for entry in data["rankings"]] == [["index", "logit"]] * 3
    # the hosted capture uses Python's default JSON spacing
    assert response.content.startswith(b'{"rankings": [{"index": ')


async def test_hosted_alias_model_is_served_on_the_generic_route(emu: Emu) -> None:
    response = await emu.rank(model="nv-rerank-qa-mistral-4b:1")
    assert response.status_code == 200
    assert sorted(r["index"] for r in response.json()["rankings"]) == [0, 1, 2]


@pytest.mark.parametrize(
    ("path", "model"),
    [
        (NEMOTRON, "nvidia/llama-nemotron-rerank-1b-v2"),
        (
            "/v1/retrieval/nvidia/nv-rerankqa-mistral-4b-v3/reranking",
            "nvidia/nv-rerankqa-mistral-4b-v3",
        ),
        (
            "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v1/reranking",
            "nvidia/llama-3.2-nv-rerankqa-1b-v1",
        ),
        (
            "/v1/retrieval/nvidia/llama-nemotron-rerank-vl-1b-v2/reranking",
            "nvidia/llama-nemotron-rerank-vl-1b-v2",
        ),
    ],
)
async def test_hosted_per_model_routes_serve_their_model(emu: Emu, path: str, model: str) -> None:
    response = await emu.rank(path, model=model)
    assert response.status_code == 200
    assert response.headers["nvcf-status"] == "fulfilled"
    assert len(response.json()["rankings"]) == 3


async def test_end_of_life_model_answers_410_in_the_captured_shape(
    make_emu: EmuFactory, capture: Callable[[str], bytes]
) -> None:
    emu = await make_emu(EmulatorConfig(api_key=KEY, now=datetime(2026, 7, 1, tzinfo=UTC)))
    model = "nvidia/llama-3.2-nv-rerankqa-1b-v2"
    response = await emu.rank(
        "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking", model=model
    )
    # the models.dev capture with its model and date replaced is what the emulator sends
    raw = capture("errors/410_gone_integrate_models.dev-3000.http").decode()
    captured_body = raw.split("\n\n", 1)[1].encode()
    expected = captured_body.replace(b"z-ai/glm-5.1", model.encode()).replace(
        b"2026-07-02T00:00:00Z", b"2026-05-18T00:00:00Z"
    )
    assert response.status_code == 410
    assert response.content == expected
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["vary"] == "Origin"
    assert response.headers["content-length"] == str(len(expected))


async def test_end_of_life_model_is_served_before_its_end_of_life(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(now=datetime(2026, 5, 17, 23, 59, tzinfo=UTC)))
    response = await emu.rank(
        "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking",
        model="nvidia/llama-3.2-nv-rerankqa-1b-v2",
    )
    assert response.status_code == 200


async def test_self_hosted_ranking_is_compact_without_nvcf_headers(emu: Emu) -> None:
    response = await emu.client.post(
        "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2")
    )
    assert response.status_code == 200
    assert response.content.startswith(b'{"rankings":[{"index":')
    assert "nvcf-reqid" not in response.headers
    assert "usage" not in response.json()


async def test_self_hosted_ranking_has_the_capture_prefix(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    # the llama_index capture is cut after two entries; its start shows the compact form
    partial = capture_lines(
        capture("success/selfhosted_nv-rerankqa-mistral-4b-v3.response.PARTIAL.txt")
    )
    response = await emu.client.post(
        "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2")
    )
    assert partial[0].startswith('{"rankings":[{"index":')
    assert response.text.startswith('{"rankings":[{"index":')


async def test_self_hosted_usage_object_when_enabled(
    make_emu: EmuFactory, capture: Callable[[str], bytes]
) -> None:
    emu = await make_emu(EmulatorConfig(include_usage=True))
    response = await emu.client.post(
        "/v1/ranking",
        json=body(model="nvidia/llama-nemotron-rerank-1b-v2", query="a b", passages=("c d e",)),
    )
    published = json.loads(capture("nvidia-docs/using-reranking-2.3.example.response.json"))
    data = response.json()
    assert list(data) == list(published)
    assert data["usage"] == {"prompt_tokens": 5, "total_tokens": 5}


async def test_self_hosted_serves_the_configured_model(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(self_hosted_model="nvidia/nv-rerankqa-mistral-4b-v3"))
    ok = await emu.client.post("/v1/ranking", json=body(model="nvidia/nv-rerankqa-mistral-4b-v3"))
    models = await emu.client.get("/v1/models")
    assert ok.status_code == 200
    assert models.json() == {"object": "list", "data": [{"id": "nvidia/nv-rerankqa-mistral-4b-v3"}]}


async def test_models_route_has_the_published_shape(
    emu: Emu, capture: Callable[[str], bytes]
) -> None:
    response = await emu.client.get("/v1/models")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == json.loads(capture("nvidia-docs/v1-models.example.response.json"))


@pytest.mark.parametrize(
    ("path", "word"), [("/v1/health/ready", "ready"), ("/v1/health/live", "live")]
)
async def test_health_routes_answer_200(emu: Emu, path: str, word: str) -> None:
    response = await emu.client.get(path)
    assert response.status_code == 200
    assert response.json()["message"] == f"Service is {word}."


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("POST", "/v1/retrieval/nvidia/no-such-model/reranking"),
        ("POST", "/v1/retrieval/nvidia/rerank-qa-mistral-4b/reranking"),
        ("GET", GENERIC),
        ("POST", "/v1/models"),
        ("POST", "/v1/ranking/"),
        ("POST", "//v1/retrieval/nvidia/reranking"),
        ("PUT", "/v2/nvcf/pexec/status/abc"),
    ],
)
async def test_unknown_paths_answer_the_captured_404(
    emu: Emu, capture: Callable[[str], bytes], method: str, path: str
) -> None:
    response = await emu.client.request(method, path, headers=AUTH)
    assert response.status_code == 404
    assert response.content == capture("errors/404_unknown_path.body.txt")
    assert len(response.content) == 19
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["vary"] == "Origin"


async def test_unknown_path_404_needs_no_key(emu: Emu) -> None:
    response = await emu.client.post("/v1/retrieval/nvidia/nope/reranking")
    assert response.status_code == 404


async def test_head_is_not_routed_and_gets_the_404_headers_without_body(emu: Emu) -> None:
    response = await emu.client.head("/v1/models")
    assert response.status_code == 404
    assert response.headers["content-length"] == "19"
    assert response.content == b""


async def test_unknown_control_route_is_a_json_404_and_not_logged(emu: Emu) -> None:
    response = await emu.client.post("/_emulator/requests")
    assert response.status_code == 404
    assert "no control route POST /_emulator/requests" in response.json()["error"]
    assert emu.state.requests == []
