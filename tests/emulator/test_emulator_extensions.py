"""The emulator's newer deployments and behaviours: the gateway, images, route groups,
the rate-limit fault, token overflow by NIM version, model life cycle, and the request log."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from nim_emulator import EmulatorConfig, EmulatorConfigError, FaultSpec, FaultSpecError
from nim_emulator._scoring import hash_logit, to_fp16

from ._support import AUTH, GENERIC, NEMOTRON, Emu, EmuFactory, body

pytestmark = pytest.mark.anyio

GATEWAY = "/v1/rerank"
VL_MODEL = "nvidia/llama-nemotron-rerank-vl-1b-v2"
VL = "/v1/retrieval/nvidia/llama-nemotron-rerank-vl-1b-v2/reranking"
RETIRED = "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
JPEG = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 16).decode()
GIF = "data:image/gif;base64," + base64.b64encode(b"GIF89a" + b"\0" * 16).decode()
GIF_AS_PNG = "data:image/png;base64," + base64.b64encode(b"GIF89a" + b"\0" * 16).decode()


def gateway_body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "nvidia/llama-nemotron-rerank-1b-v2",
        "query": "which way should i go",
        "documents": ["nothing here", {"text": "go go go the way"}, "a way to go"],
        **extra,
    }


def vl_body(*passages: dict[str, Any]) -> dict[str, Any]:
    return {"model": VL_MODEL, "query": {"text": "a red car"}, "passages": list(passages)}


# ---- the gateway: POST /v1/rerank -----------------------------------------------------------


async def test_gateway_answers_cohere_shaped_results_best_first(emu: Emu) -> None:
    response = await emu.client.post(GATEWAY, json=gateway_body(), headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert set(data) == {"id", "results", "meta"}
    assert data["meta"] == {"billed_units": {"search_units": 1}}
    results = data["results"]
    assert sorted(r["index"] for r in results) == [0, 1, 2]
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert results[-1]["index"] == 0  # "nothing here" shares no word with the query


async def test_gateway_scores_are_the_logistic_of_the_nim_logits(emu: Emu) -> None:
    nim = await emu.rank(NEMOTRON, model="nvidia/llama-nemotron-rerank-1b-v2")
    gateway = await emu.client.post(
        GATEWAY,
        json=gateway_body(documents=["a way to go", "nothing here", "go go go the way"]),
        headers=AUTH,
    )
    logits = {r["index"]: r["logit"] for r in nim.json()["rankings"]}
    for result in gateway.json()["results"]:
        expected = 1 / (1 + pow(2.718281828459045, -logits[result["index"]]))
        assert result["relevance_score"] == pytest.approx(expected)


async def test_gateway_top_n_and_return_documents(emu: Emu) -> None:
    response = await emu.client.post(
        GATEWAY, json=gateway_body(top_n=2, return_documents=True), headers=AUTH
    )
    results = response.json()["results"]
    assert len(results) == 2
    texts = {0: "nothing here", 1: "go go go the way", 2: "a way to go"}
    assert all(r["document"] == {"text": texts[r["index"]]} for r in results)


async def test_gateway_refuses_a_nim_body_in_fastapi_shape(emu: Emu) -> None:
    response = await emu.client.post(GATEWAY, json=body(), headers=AUTH)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert {
        "type": "string_type",
        "loc": ["body", "query"],
        "msg": "Input should be a valid string",
    } in detail
    assert any(d["loc"] == ["body", "documents"] and d["type"] == "missing" for d in detail)
    assert any(d["loc"] == ["body", "passages"] and d["type"] == "extra_forbidden" for d in detail)


async def test_gateway_refuses_images_and_empty_documents(emu: Emu) -> None:
    image = await emu.client.post(
        GATEWAY, json=gateway_body(documents=[{"image": PNG}]), headers=AUTH
    )
    assert image.status_code == 422
    assert any(d["loc"][-1] == "image" for d in image.json()["detail"])
    empty = await emu.client.post(GATEWAY, json=gateway_body(documents=[]), headers=AUTH)
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["type"] == "too_short"


async def test_gateway_keys_models_and_end_of_life(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(api_key="k", now=datetime(2026, 6, 1, tzinfo=UTC)))
    missing = await emu.client.post(GATEWAY, json=gateway_body())
    assert missing.status_code == 401
    wrong = await emu.client.post(
        GATEWAY, json=gateway_body(), headers={"Authorization": "Bearer x"}
    )
    assert wrong.status_code == 403
    auth = {"Authorization": "Bearer k"}
    unknown = await emu.client.post(GATEWAY, json=gateway_body(model="acme/x"), headers=auth)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Model 'acme/x' not found"})
    gone = await emu.client.post(
        GATEWAY, json=gateway_body(model="nvidia/llama-3.2-nv-rerankqa-1b-v2"), headers=auth
    )
    assert gone.status_code == 410
    assert gone.json()["title"] == "Gone"


async def test_faults_apply_to_the_gateway_by_default(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(faults=[FaultSpec.parse("status=503,count=1")]))
    first = await emu.client.post(GATEWAY, json=gateway_body(), headers=AUTH)
    second = await emu.client.post(GATEWAY, json=gateway_body(), headers=AUTH)
    assert (first.status_code, second.status_code) == (503, 200)


# ---- route groups ---------------------------------------------------------------------------


async def test_a_route_group_switched_off_is_the_404_page(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(routes=frozenset({"ranking"})))
    off = await emu.rank(GENERIC)
    assert (off.status_code, off.content) == (404, b"404 page not found\n")
    assert (await emu.rank(NEMOTRON, model="nvidia/llama-nemotron-rerank-1b-v2")).status_code == 404
    assert (await emu.client.post(GATEWAY, json=gateway_body(), headers=AUTH)).status_code == 404
    on = await emu.client.post("/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2"))
    assert on.status_code == 200


def test_unknown_route_group_is_a_config_error() -> None:
    with pytest.raises(EmulatorConfigError, match="unknown route group 'hosted'"):
        EmulatorConfig(routes=frozenset({"hosted"}))


# ---- image passages (NIM 2.4's rules) -------------------------------------------------------


async def test_image_passages_are_ranked_on_the_vl_route(emu: Emu) -> None:
    payload = vl_body({"image": PNG}, {"text": "a red car", "image": JPEG}, {"text": "a boat"})
    response = await emu.client.post(VL, json=payload, headers=AUTH)
    assert response.status_code == 200
    rankings = response.json()["rankings"]
    assert sorted(r["index"] for r in rankings) == [0, 1, 2]
    logits = [r["logit"] for r in rankings]
    assert logits == sorted(logits, reverse=True)
    assert {r["index"]: r["logit"] for r in rankings}[0] == hash_logit("a red car", PNG)


async def test_image_passages_on_a_self_hosted_vl_nim(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(self_hosted_model=VL_MODEL))
    ok = await emu.client.post("/v1/ranking", json=vl_body({"image": JPEG}))
    assert ok.status_code == 200
    bad = await emu.client.post("/v1/ranking", json=vl_body({"text": "x"}, {"image": GIF}))
    assert bad.status_code == 400
    assert bad.json() == {
        "object": "error",
        "message": "passages[1].image: Value error, only PNG and JPEG images are supported, "
        "not image/gif",
    }


@pytest.mark.parametrize(
    ("passage", "where", "words"),
    [
        ({"text": "", "image": PNG}, "text", "String should have at least 1 character"),
        ({}, None, "a passage needs text, image or both"),
        ({"image": GIF}, "image", "only PNG and JPEG images are supported, not image/gif"),
        ({"image": GIF_AS_PNG}, "image", "the image bytes are neither"),
        ({"image": "data:image/png;asset_id,0d5e8c"}, "image", "asset ID references"),
        ({"image": "data:image/png,%89PNG"}, "image", "must be base64-encoded"),
        ({"image": "https://example.com/a.png"}, "image", "must be a base64 data URL"),
        ({"image": "data:image/png;base64,@@@"}, "image", "not valid base64"),
    ],
)
async def test_image_passages_break_the_24_rules(
    emu: Emu, passage: dict[str, Any], where: str | None, words: str
) -> None:
    response = await emu.client.post(VL, json=vl_body({"text": "ok"}, passage), headers=AUTH)
    assert response.status_code == 422
    detail = response.json()["detail"]
    location = "body -> passages -> 1" + (f" -> {where}" if where else "")
    assert detail.startswith(location + "\n  ")
    assert words in detail


async def test_text_models_refuse_images(emu: Emu) -> None:
    payload = body(model="nvidia/llama-nemotron-rerank-1b-v2")
    payload["passages"][0]["image"] = PNG
    response = await emu.client.post(NEMOTRON, json=payload, headers=AUTH)
    assert response.status_code == 422
    assert (
        "body -> passages -> 0 -> image\n  Extra inputs are not permitted"
        in (response.json()["detail"])
    )


# ---- the rate-limit fault -------------------------------------------------------------------


def test_ratelimit_spec_parses_and_round_trips() -> None:
    spec = FaultSpec.parse("ratelimit=5/60,retry-after=2")
    assert (spec.kind, spec.rate_limit, spec.window_s, spec.retry_after) == (
        "ratelimit",
        5,
        60.0,
        2,
    )
    assert spec.to_spec() == "ratelimit=5/60,retry-after=2"
    assert FaultSpec.parse(spec.to_spec()) == spec
    assert FaultSpec.parse("ratelimit=2/0.5").to_spec() == "ratelimit=2/0.5"
    assert (
        FaultSpec.from_json({"kind": "ratelimit", "rate_limit": 1, "window_s": 1}).rate_limit == 1
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ratelimit", "ratelimit needs a value"),
        ("ratelimit=5", "needs N/W"),
        ("ratelimit=a/b", "with numbers"),
        ("ratelimit=0/60", "N a whole number >= 1"),
        ("ratelimit=5/0", "W a number of seconds > 0"),
        ("ratelimit=5/60,jitter=3", "jitter does not apply to the ratelimit fault"),
    ],
)
def test_bad_ratelimit_specs(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        FaultSpec.parse(spec)


async def test_ratelimit_answers_429_past_n_per_window(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(faults=[FaultSpec.parse("ratelimit=3/0.4")]))
    statuses = [(await emu.rank()).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = await emu.rank()
    assert refused.content == b'{"status":429,"title":"Too Many Requests"}\n'
    assert refused.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in refused.headers
    await asyncio.sleep(0.45)
    assert (await emu.rank()).status_code == 200
    assert emu.state.requests[3].faults == ["ratelimit=3/0.4"]


async def test_ratelimit_with_retry_after_and_count(make_emu: EmuFactory) -> None:
    emu = await make_emu(
        EmulatorConfig(faults=[FaultSpec.parse("ratelimit=1/60,retry-after=2,count=2")])
    )
    first, second, third, fourth = [await emu.rank() for _ in range(4)]
    assert first.status_code == 200
    assert (second.status_code, second.headers["retry-after"]) == (429, "2")
    assert third.status_code == 429
    assert fourth.status_code == 200  # count=2: two 429s given, then the fault is spent


async def test_ratelimit_window_is_shared_by_concurrent_requests(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(faults=[FaultSpec.parse("ratelimit=4/60")]))
    responses = await asyncio.gather(*(emu.rank() for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 4 + [429] * 6


# ---- token overflow by NIM version ----------------------------------------------------------

LONG = " ".join(["word"] * 9000)


@pytest.mark.parametrize(("version", "status"), [("1.3.0", 400), ("1", 400), ("2.4", 422)])
async def test_token_overflow_status_follows_the_nim_version(
    make_emu: EmuFactory, version: str, status: int
) -> None:
    emu = await make_emu(EmulatorConfig(nim_version=version))
    ranking = await emu.client.post(
        "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2", passages=(LONG,))
    )
    assert ranking.status_code == status
    assert ranking.json()["message"] == (
        "Input length 9005 exceeds maximum allowed token size 8192"
    )
    hosted = await emu.rank(GENERIC, passages=(LONG,), truncate="NONE")
    assert hosted.status_code == status
    assert hosted.json()["status"] == status
    gateway = await emu.client.post(GATEWAY, json=gateway_body(documents=[LONG * 2]), headers=AUTH)
    assert gateway.status_code == status


def test_a_nim_version_must_look_like_one() -> None:
    with pytest.raises(EmulatorConfigError, match="nim_version must look like"):
        EmulatorConfig(nim_version="latest")


# ---- model life cycle -----------------------------------------------------------------------


async def test_deprecation_and_sunset_headers_for_the_configured_model(
    make_emu: EmuFactory,
) -> None:
    model = "nvidia/llama-nemotron-rerank-1b-v2"
    emu = await make_emu(
        EmulatorConfig(
            deprecation={model: "@1767225600"},
            sunset={model: "Thu, 01 Jan 2027 00:00:00 GMT"},
        )
    )
    for response in (
        await emu.rank(NEMOTRON, model=model),
        await emu.client.post("/v1/ranking", json=body(model=model)),
        await emu.client.post(GATEWAY, json=gateway_body(), headers=AUTH),
    ):
        assert response.status_code == 200
        assert response.headers["deprecation"] == "@1767225600"
        assert response.headers["sunset"] == "Thu, 01 Jan 2027 00:00:00 GMT"
    other = await emu.rank(GENERIC)
    assert "deprecation" not in other.headers
    assert "sunset" not in other.headers


async def test_configured_end_of_life_answers_410_on_the_generic_route(
    make_emu: EmuFactory,
) -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    emu = await make_emu(
        EmulatorConfig(
            end_of_life={"nvidia/rerank-qa-mistral-4b": when},
            now=datetime(2026, 3, 2, tzinfo=UTC),
        )
    )
    response = await emu.rank(GENERIC)
    assert response.status_code == 410
    assert response.content == (
        b'{"type":"about:blank","title":"Gone","status":410,"detail":"The model '
        b"'nvidia/rerank-qa-mistral-4b' has reached its end of life on 2026-03-01T00:00:00Z "
        b'and is no longer available."}\n'
    )
    assert (await emu.rank(GENERIC, model="nv-rerank-qa-mistral-4b:1")).status_code == 200


async def test_the_retired_v2_model_answers_410_in_the_captured_shape(emu: Emu) -> None:
    response = await emu.rank(RETIRED, model="nvidia/llama-3.2-nv-rerankqa-1b-v2")
    assert response.status_code == 410
    assert b"has reached its end of life on 2026-05-18T00:00:00Z" in response.content


def test_end_of_life_needs_a_timezone() -> None:
    with pytest.raises(EmulatorConfigError, match="timezone-aware"):
        EmulatorConfig(end_of_life={"m": datetime(2026, 1, 1)})


async def test_model_list_can_advertise_an_id_with_its_root(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(model_list_id="/opt/nim/workspace/model"))
    response = await emu.client.get("/v1/models")
    assert response.json() == {
        "object": "list",
        "data": [
            {
                "id": "/opt/nim/workspace/model",
                "object": "model",
                "owned_by": "system",
                "root": "nvidia/llama-nemotron-rerank-1b-v2",
            }
        ],
    }


# ---- the request log ------------------------------------------------------------------------


async def test_records_carry_a_monotonic_arrival_time(emu: Emu) -> None:
    before = time.monotonic()
    await emu.rank()
    await asyncio.sleep(0.05)
    await emu.rank()
    after = time.monotonic()
    first, second = emu.state.requests
    assert before <= first.received_at < second.received_at <= after
    assert second.received_at - first.received_at >= 0.05
    listed = (await emu.client.get("/_emulator/requests")).json()["requests"]
    assert [r["received_at"] for r in listed] == [first.received_at, second.received_at]


async def test_the_log_can_be_off_or_bounded(make_emu: EmuFactory) -> None:
    off = await make_emu(EmulatorConfig(log_requests=False))
    assert (await off.rank()).status_code == 200
    assert off.state.requests == []
    bounded = await make_emu(EmulatorConfig(max_logged=2))
    for _ in range(5):
        await bounded.rank()
    assert [r.seq for r in bounded.state.requests] == [4, 5]


async def test_faults_still_apply_with_the_log_off(make_emu: EmuFactory) -> None:
    emu = await make_emu(
        EmulatorConfig(log_requests=False, faults=[FaultSpec.parse("status=429,count=1")])
    )
    assert [(await emu.rank()).status_code for _ in range(2)] == [429, 200]


# ---- hash scoring ---------------------------------------------------------------------------


async def test_hash_scoring_is_deterministic_fp16_and_sorted(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(scoring="hash"))
    passages = tuple(f"passage number {i}" for i in range(50))
    first = (await emu.rank(passages=passages)).json()["rankings"]
    second = (await emu.rank(passages=passages)).json()["rankings"]
    assert first == second
    logits = [r["logit"] for r in first]
    assert logits == sorted(logits, reverse=True)
    assert all(-12.0 <= x < 4.0 and to_fp16(x) == x for x in logits)
    assert len(set(logits)) > 40
    by_index = {r["index"]: r["logit"] for r in first}
    assert by_index[7] == hash_logit("which way should i go", "passage number 7")


def test_unknown_scoring_is_a_config_error() -> None:
    with pytest.raises(EmulatorConfigError, match="scoring must be one of bm25, hash"):
        EmulatorConfig(scoring="bm42")  # type: ignore[arg-type]
