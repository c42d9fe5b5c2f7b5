"""The emulator is never more lenient than a real NIM: limits by route, NIM's own routes.

Each test names the NVIDIA document that states the behaviour it pins (docs/emulator.md gives
the same sources, with the provenance labels). Where documents disagree, the stricter one wins:

* 2.0.0 / 2.3 support matrices: llama-nemotron-rerank-vl-1b-v2 takes 8192 tokens a pair (1.12's
  matrix said 10240);
* 2.0.0 "VLM Reranking Requests" (use-the-api-openai.html): a self-hosted NIM takes at most 512
  passages; the hosted API reference (docs.api.nvidia.com/nim/reference/
  nvidia-llama-nemotron-rerank-vl-1b-v2-infer) takes 1-1000 and "Defaults to END";
* 2.3 "Use Reranking NIM" best practices: truncate defaults to NONE on a self-hosted NIM;
* 2.4 support matrix: Nemotron 3.5 Rerank 8B, 10240 tokens by default, up to 32768 with
  NIM_PIPELINE_MAX_SEQ_LEN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from nim_emulator import EmulatorConfig, EmulatorConfigError, create_app

from ._support import AUTH, GENERIC, body

pytestmark = pytest.mark.anyio

VL = "nvidia/llama-nemotron-rerank-vl-1b-v2"
VL_HOSTED = "/v1/retrieval/nvidia/llama-nemotron-rerank-vl-1b-v2/reranking"
NEMOTRON_35 = "nvidia/Nemotron-3.5-Rerank-8B-BF16"
MISTRAL_V3_ROUTE = "/v1/retrieval/nvidia/nv-rerankqa-mistral-4b-v3/reranking"
RERANKQA_V2_ROUTE = "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking"


def words(n: int) -> str:
    """``n`` tokens of the emulator's approximation."""
    return " ".join(f"w{i}" for i in range(n))


def client_for(**config: Any) -> httpx.AsyncClient:
    app = create_app(EmulatorConfig(scoring="hash", **config))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu.test")


async def post(path: str, payload: dict[str, Any], **config: Any) -> httpx.Response:
    async with client_for(**config) as client:
        return await client.post(path, json=payload, headers=AUTH)


# ---- passages: limits per route, not per model ----------------------------------------------


@pytest.mark.parametrize(("count", "status"), [(1000, 200), (1001, 422)])
async def test_the_vl_models_hosted_route_takes_1000_passages(count: int, status: int) -> None:
    # Hosted API reference of llama-nemotron-rerank-vl-1b-v2: passages "length between 1 and 1000".
    passages = tuple(f"p{i}" for i in range(count))
    response = await post(VL_HOSTED, body(model=VL, query="q", passages=passages))
    assert response.status_code == status
    if status == 422:
        assert (
            "List should have at most 1000 items after validation, not 1001"
            in (response.json()["detail"])
        )


@pytest.mark.parametrize(("count", "status"), [(512, 200), (513, 400)])
async def test_a_self_hosted_vl_nim_takes_512_passages(count: int, status: int) -> None:
    # NIM 2.0.0 "VLM Reranking Requests": "A request can include up to 512 passages." The hosted
    # reference's 1000 is the hosted route's, not the model's.
    passages = tuple(f"p{i}" for i in range(count))
    response = await post(
        "/v1/ranking", body(model=VL, query="q", passages=passages), self_hosted_model=VL
    )
    assert response.status_code == status
    if status == 400:
        assert response.json() == {
            "object": "error",
            "message": "passages: List should have at most 512 items after validation, not 513",
        }


async def test_the_gateway_takes_a_self_hosted_nims_512_passages() -> None:
    # The gateway fronts self-hosted NIMs (inferred): their limit, the stricter one.
    payload = {"model": VL, "query": "q", "documents": [f"d{i}" for i in range(513)]}
    response = await post("/v1/rerank", payload)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"].startswith("List should have at most 512 items")


# ---- truncate: the default by route; the VL model's 8192 tokens ------------------------------


async def test_the_vl_models_hosted_route_truncates_by_default() -> None:
    # Hosted reference: truncate "Defaults to END". 1 + 8192 tokens is over 8192: cut, not refused.
    payload = body(model=VL, query="q", passages=(words(8192),))
    response = await post(VL_HOSTED, payload)
    assert response.status_code == 200, response.text


async def test_a_self_hosted_vl_nim_truncates_nothing_by_default() -> None:
    # NIM 2.3 "Use Reranking NIM": an optional truncate, "either NONE or END, defaulting to NONE";
    # the 2.x support matrices: 8192 tokens (not 10240).
    payload = body(model=VL, query="q", passages=(words(8192),))
    response = await post("/v1/ranking", payload, self_hosted_model=VL)
    assert response.status_code == 422
    assert response.json() == {
        "object": "error",
        "message": "Input length 8193 exceeds maximum allowed token size 8192",
    }


@pytest.mark.parametrize(("path", "status"), [(VL_HOSTED, 400), ("/v1/ranking", 422)])
async def test_the_vl_model_takes_8192_tokens_a_pair_on_every_route(path: str, status: int) -> None:
    # NIM 2.0.0 and 2.3 support matrices: 8192 (1.12's said 10240; the stricter figure is kept).
    fits = body(model=VL, query="q", passages=(words(8191),), truncate="NONE")
    over = body(model=VL, query="q", passages=(words(8192),), truncate="NONE")
    assert (await post(path, fits, self_hosted_model=VL)).status_code == 200
    response = await post(path, over, self_hosted_model=VL)
    assert response.status_code == status
    assert "Input length 8193 exceeds maximum allowed token size 8192" in response.text


# ---- Nemotron 3.5 Rerank 8B: 10240 by default, NIM_PIPELINE_MAX_SEQ_LEN up to 32768 ----------


async def test_nemotron_3_5_takes_10240_tokens_by_default() -> None:
    # NIM 2.4 support matrix: "the NIM limits each query and passage pair to 10240 tokens by
    # default. To allow up to 32768 tokens, set NIM_PIPELINE_MAX_SEQ_LEN."
    fits = body(model=NEMOTRON_35, query="q", passages=(words(10239),))
    over = body(model=NEMOTRON_35, query="q", passages=(words(10240),))
    assert (await post("/v1/ranking", fits, self_hosted_model=NEMOTRON_35)).status_code == 200
    response = await post("/v1/ranking", over, self_hosted_model=NEMOTRON_35)
    assert response.status_code == 422
    assert response.json()["message"] == (
        "Input length 10241 exceeds maximum allowed token size 10240"
    )


async def test_pipeline_max_seq_len_raises_nemotron_3_5_to_32768() -> None:
    config = {"self_hosted_model": NEMOTRON_35, "pipeline_max_seq_len": 32768}
    fits = body(model=NEMOTRON_35, query="q", passages=(words(32767),))
    over = body(model=NEMOTRON_35, query="q", passages=(words(32768),))
    assert (await post("/v1/ranking", fits, **config)).status_code == 200
    response = await post("/v1/ranking", over, **config)
    assert response.json()["message"] == (
        "Input length 32769 exceeds maximum allowed token size 32768"
    )


@pytest.mark.parametrize(
    ("model", "value", "message"),
    [
        (
            NEMOTRON_35,
            32769,
            "pipeline_max_seq_len must be a whole number 1-32768 for "
            "nvidia/Nemotron-3.5-Rerank-8B-BF16, not 32769",
        ),
        (
            "nvidia/llama-nemotron-rerank-1b-v2",
            8193,
            "pipeline_max_seq_len must be a whole number 1-8192 for "
            "nvidia/llama-nemotron-rerank-1b-v2, not 8193",
        ),
        (NEMOTRON_35, 0, "pipeline_max_seq_len must be a whole number 1-32768 for "),
        (NEMOTRON_35, True, "pipeline_max_seq_len must be a whole number 1-32768 for "),
    ],
)
def test_pipeline_max_seq_len_stays_within_the_models_maximum(
    model: str, value: Any, message: str
) -> None:
    with pytest.raises(EmulatorConfigError) as caught:
        EmulatorConfig(self_hosted_model=model, pipeline_max_seq_len=value)
    assert str(caught.value).startswith(message)


# ---- GET /v1/metadata ------------------------------------------------------------------------


@pytest.mark.parametrize("routes", [None, "ranking"])
async def test_metadata_names_the_served_model_in_nims_shape(routes: str | None) -> None:
    # NVIDIA's NIM API references (GET /v1/metadata: version, modelInfo, assetInfo, licenseInfo;
    # the NeMo Retriever 2.x runtimes list the route). The k8s NIM operator reads modelInfo when
    # /v1/models is missing.
    async with client_for(
        self_hosted_model=NEMOTRON_35, nim_version="2.4.1", routes=routes
    ) as client:
        response = await client.get("/v1/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "version": "2.4.1",
        "modelInfo": [{"shortName": NEMOTRON_35, "modelUrl": f"ngc://nim/{NEMOTRON_35}"}],
        "assetInfo": [],
        "licenseInfo": {},
    }


async def test_metadata_answers_get_only() -> None:
    async with client_for() as client:
        response = await client.post("/v1/metadata")
    assert (response.status_code, response.text) == (404, "404 page not found\n")


# ---- the hosted-2026 route preset ------------------------------------------------------------


async def test_hosted_2026_answers_404_not_found_for_account_on_retired_routes(
    capture: Callable[[str], bytes],
) -> None:
    # The captured body (errors/404_function_not_found_integrate_freellmapi-634.json) with this
    # emulator's function and account ids; nv-rerankqa-mistral-4b-v3 is the default model of
    # LlamaIndex's NVIDIARerank 0.7.0, and most accounts get this 404 for it in 2026.
    payload = body(model="nvidia/nv-rerankqa-mistral-4b-v3")
    response = await post(MISTRAL_V3_ROUTE, payload, routes="hosted-2026")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    captured = json.loads(capture("errors/404_function_not_found_integrate_freellmapi-634.json"))
    answered = response.json()
    assert list(answered) == list(captured) == ["status", "title", "detail"]
    assert (answered["status"], answered["title"]) == (captured["status"], captured["title"])
    detail = r"Function '[0-9a-f-]{36}': Not found for account '[^']+'"
    assert re.fullmatch(detail, captured["detail"])
    assert re.fullmatch(detail, answered["detail"])
    assert response.content == json.dumps(answered, separators=(",", ":")).encode() + b"\n"


async def test_hosted_2026_checks_the_key_before_the_account() -> None:
    response = await post(
        MISTRAL_V3_ROUTE, body(model="nvidia/nv-rerankqa-mistral-4b-v3"), routes="hosted-2026"
    )
    assert response.status_code == 404
    async with client_for(routes="hosted-2026") as client:
        missing = await client.post(MISTRAL_V3_ROUTE, json=body())
    assert missing.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("POST", GENERIC, body(), 200),
        ("POST", VL_HOSTED, body(model=VL), 200),
        ("POST", RERANKQA_V2_ROUTE, body(model="nvidia/llama-3.2-nv-rerankqa-1b-v2"), 410),
        ("POST", "/v1/ranking", body(model="nvidia/llama-nemotron-rerank-1b-v2"), 404),
        ("POST", "/v1/rerank", {"model": VL, "query": "q", "documents": ["d"]}, 404),
    ],
)
async def test_hosted_2026_serves_todays_hosted_catalogue(
    method: str, path: str, payload: dict[str, Any], status: int
) -> None:
    async with client_for(routes="hosted-2026", now=datetime(2026, 6, 1, tzinfo=UTC)) as client:
        response = await client.request(method, path, json=payload, headers=AUTH)
    assert response.status_code == status, response.text


def test_a_route_preset_combines_with_groups_and_refuses_unknown_names() -> None:
    config = EmulatorConfig(routes={"hosted-2026", "ranking"})
    assert config.routes == frozenset({"retrieval", "model", "ranking"})
    assert config.not_for_account == frozenset({"nvidia/nv-rerankqa-mistral-4b-v3"})
    with pytest.raises(EmulatorConfigError, match="unknown route group 'hosted-2025'"):
        EmulatorConfig(routes="hosted-2025")


def test_the_preset_is_the_only_source_of_retired_routes() -> None:
    assert EmulatorConfig().not_for_account == frozenset()
    assert EmulatorConfig(routes="model").not_for_account == frozenset()
