"""Authentication: 401 without a header, 401 for a malformed one, 403 for a wrong key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nim_emulator import EmulatorConfig

from ._support import GENERIC, KEY, NEMOTRON, Emu, EmuFactory, body, capture_lines

pytestmark = pytest.mark.anyio

POLL = "/v2/nvcf/pexec/status/0b7a3c52-0000-4000-8000-000000000000"


@pytest.mark.parametrize(("method", "path"), [("POST", GENERIC), ("POST", NEMOTRON), ("GET", POLL)])
async def test_missing_authorization_is_the_captured_plain_text_401(
    emu: Emu, capture: Callable[[str], bytes], method: str, path: str
) -> None:
    response = await emu.client.request(method, path, json=body())
    captured = capture_lines(capture("errors/401_missing_auth_header_plain-text.txt"))
    assert response.status_code == 401
    assert response.text == captured[0]
    assert response.content == b"Header of type `authorization` was missing"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert emu.state.requests[-1].auth == "missing"


@pytest.mark.parametrize("value", ["Basic abc", "Bearer", "Token abc", "nvapi-key-without-scheme"])
async def test_malformed_authorization_is_401_with_the_captured_challenge(
    emu: Emu, capture: Callable[[str], bytes], value: str
) -> None:
    response = await emu.client.post(GENERIC, json=body(), headers={"Authorization": value})
    captured = capture("errors/401_malformed_bearer_GenerativeAIExamples-135.txt").decode()
    challenge = response.headers["www-authenticate"]
    assert response.status_code == 401
    assert response.content == b""
    assert challenge.startswith("Bearer ")
    for part in challenge.removeprefix("Bearer ").split(", "):
        assert part in captured
    assert emu.state.requests[-1].auth == "malformed"


async def test_wrong_key_is_the_captured_403(emu: Emu, capture: Callable[[str], bytes]) -> None:
    response = await emu.client.post(
        GENERIC, json=body(), headers={"Authorization": "Bearer nvapi-wrong"}
    )
    assert response.status_code == 403
    assert response.content == capture("errors/403_forbidden_integrate_oh-my-pi-499.json")
    assert (
        response.content == b'{"status":403,"title":"Forbidden","detail":"Authorization failed"}\n'
    )
    assert response.headers["content-type"] == "application/problem+json"
    assert emu.state.requests[-1].auth == "invalid"


async def test_right_key_is_accepted_and_scheme_is_case_insensitive(emu: Emu) -> None:
    response = await emu.client.post(
        GENERIC, json=body(), headers={"authorization": f"bearer {KEY}"}
    )
    assert response.status_code == 200
    assert emu.state.requests[-1].auth == "valid"


async def test_without_configured_key_any_bearer_is_accepted(make_emu: EmuFactory) -> None:
    emu = await make_emu()
    response = await emu.client.post(
        GENERIC, json=body(), headers={"Authorization": "Bearer **********"}
    )
    assert response.status_code == 200
    assert emu.state.requests[-1].auth == "accepted"


async def test_without_configured_key_a_missing_header_is_still_401(make_emu: EmuFactory) -> None:
    emu = await make_emu()
    response = await emu.client.post(GENERIC, json=body())
    assert response.status_code == 401


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
async def test_self_hosted_routes_never_check_keys(emu: Emu, headers: dict[str, str]) -> None:
    ranking = await emu.client.post(
        "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2"), headers=headers
    )
    models = await emu.client.get("/v1/models", headers=headers)
    assert (ranking.status_code, models.status_code) == (200, 200)
    assert emu.state.requests[-1].auth == "not-checked"


async def test_key_check_comes_before_body_validation(emu: Emu) -> None:
    response = await emu.client.post(GENERIC, content=b"not json")
    assert response.status_code == 401


async def test_end_of_life_check_comes_after_the_key_check(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(api_key=KEY))
    path = "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking"
    response = await emu.client.post(path, json=body())
    assert response.status_code == 401
