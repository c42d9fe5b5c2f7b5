"""Every fault, in-process and on a socket: what the client sees."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import anyio
import httpx
import pytest

from nim_emulator import (
    EmulatedConnectionDrop,
    EmulatedConnectionReset,
    EmulatorConfig,
    FaultSpec,
)

from ._support import AUTH, GENERIC, KEY, Emu, EmuFactory, body

pytestmark = pytest.mark.anyio

PASSAGES = ("go the way", "unrelated", "which way", "way way", "the")


async def faulty(make_emu: EmuFactory, *specs: str, **config: object) -> Emu:
    faults = [FaultSpec.parse(spec) for spec in specs]
    return await make_emu(EmulatorConfig(api_key=KEY, faults=faults, **config))  # type: ignore[arg-type]


async def rank(emu: Emu) -> httpx.Response:
    return await emu.rank(query="which way", passages=PASSAGES)


# ---- status faults ---------------------------------------------------------------------------


async def test_status_429_is_the_captured_body_then_normal_answers(
    make_emu: EmuFactory, capture: Callable[[str], bytes]
) -> None:
    emu = await faulty(make_emu, "status=429,count=2")
    answers = [await rank(emu) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].content == capture(
        "errors/429_too_many_requests_integrate_free-claude-code-690.json"
    )
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert "retry-after" not in answers[0].headers
    assert emu.state.requests[0].faults == ["status=429,count=2"]
    assert emu.state.requests[2].faults == []


async def test_status_502_is_the_reported_body(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "status=502")
    response = await rank(emu)
    assert response.status_code == 502
    assert response.content == (
        b'{"type":"about:blank","title":"Bad Gateway","status":502,'
        b'"detail":"Upstream request failed."}\n'
    )


async def test_status_503_carries_retry_after(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "status=503,count=1", "status=503,retry-after=7,count=1")
    first, second = await rank(emu), await rank(emu)
    assert (first.status_code, second.status_code) == (503, 503)
    assert first.headers["retry-after"] == "10800"
    assert second.headers["retry-after"] == "7"
    assert first.json() == {"type": "about:blank", "title": "Service Unavailable", "status": 503}


async def test_status_504_is_marked_errored(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "status=504")
    response = await rank(emu)
    assert response.status_code == 504
    assert response.headers["nvcf-status"] == "errored"
    assert uuid.UUID(response.headers["nvcf-reqid"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, {"type": "about:blank", "title": "Internal Server Error", "status": 500}),
        (401, {"status": 401, "title": "Unauthorized"}),
        (402, {"status": 402, "title": "Payment Required", "detail": "Cloud credits expired"}),
        (599, {"type": "about:blank", "title": "Error", "status": 599}),
    ],
)
async def test_other_statuses_have_inferred_problem_details(
    make_emu: EmuFactory, status: int, expected: dict[str, object]
) -> None:
    emu = await faulty(make_emu, f"status={status},retry-after=3")
    response = await rank(emu)
    assert response.status_code == status
    assert response.json() == expected
    assert response.headers["retry-after"] == "3"


async def test_status_403_and_404_faults_use_the_captured_bodies(
    make_emu: EmuFactory, capture: Callable[[str], bytes]
) -> None:
    emu = await faulty(make_emu, "status=403,count=1", "status=404,count=1")
    forbidden, missing = await rank(emu), await rank(emu)
    assert forbidden.content == capture("errors/403_forbidden_integrate_oh-my-pi-499.json")
    assert missing.content == capture("errors/404_unknown_path.body.txt")


async def test_faults_default_to_the_reranking_routes_and_path_scopes_them(
    make_emu: EmuFactory,
) -> None:
    emu = await faulty(make_emu, "status=503", "status=500,path=/v1/health/ready")
    assert (await emu.client.get("/v1/models")).status_code == 200
    assert (await emu.client.get("/v1/health/live")).status_code == 200
    assert (await emu.client.get("/v1/health/ready")).status_code == 500
    ranking = await emu.client.post(
        "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2")
    )
    assert ranking.status_code == 503


# ---- latency ---------------------------------------------------------------------------------


async def test_latency_fault_delays_the_answer(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "latency=150,count=1")
    start = time.perf_counter()
    response = await rank(emu)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    assert elapsed >= 0.8 * 0.150


async def test_configured_latency_and_jitter_apply_to_every_route(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(latency_ms=60, jitter_ms=20, seed=1))
    start = time.perf_counter()
    await emu.client.get("/v1/models")
    await emu.client.get("/nowhere")
    assert time.perf_counter() - start >= 0.8 * 0.120


async def test_client_giving_up_during_latency_ends_the_request(
    make_socket_emu: EmuFactory,
) -> None:
    # Server only: in-process there is no socket for the client's timeout to close.
    emu = await faulty(make_socket_emu, "latency=60000,count=1")
    with pytest.raises(httpx.ReadTimeout):
        await emu.client.post(GENERIC, json=body(), headers=AUTH, timeout=0.2)
    for _ in range(200):
        if emu.state.requests[0].outcome != "pending":
            break
        await anyio.sleep(0.01)
    assert emu.state.requests[0].outcome == "client-disconnected"


# ---- drops ---------------------------------------------------------------------------------


async def test_drop_closes_the_connection_without_an_answer(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "drop,count=1")
    with pytest.raises(httpx.RemoteProtocolError) as info:
        await rank(emu)
    if emu.mode == "in-process":
        assert isinstance(info.value, EmulatedConnectionDrop)
    assert "without sending a response" in str(info.value)
    assert (await rank(emu)).status_code == 200
    assert [r.outcome for r in emu.state.requests] == ["dropped", "answered"]
    assert emu.state.requests[0].status is None


async def test_drop_reset_is_a_read_error(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "drop=reset,count=1")
    with pytest.raises(httpx.ReadError) as info:
        await rank(emu)
    if emu.mode == "in-process":
        assert isinstance(info.value, EmulatedConnectionReset)
    assert (await rank(emu)).status_code == 200


async def test_drop_mid_body_sends_part_of_the_promised_body(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "drop-mid-body,count=1")
    with pytest.raises(httpx.RemoteProtocolError) as info:
        await rank(emu)
    assert "peer closed connection without sending complete message body" in str(info.value)
    full = await rank(emu)
    expected = len(full.content)
    assert f"(received {expected // 2} bytes, expected {expected})" in str(info.value)
    assert emu.state.requests[0].outcome == "dropped-mid-body"
    assert emu.state.requests[0].status == 200


async def test_drop_mid_body_streaming_client_sees_the_headers_first(
    make_socket_emu: EmuFactory,
) -> None:
    # Server only: ASGITransport buffers the body, so in-process the error comes before the headers.
    emu = await faulty(make_socket_emu, "drop-mid-body,count=1")
    async with emu.client.stream("POST", GENERIC, json=body(), headers=AUTH) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await response.aread()


# ---- body faults ---------------------------------------------------------------------------


async def test_malformed_json_is_a_200_with_a_cut_body(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "malformed-json,count=1")
    bad, good = await rank(emu), await rank(emu)
    assert bad.status_code == 200
    assert bad.headers["content-type"] == "application/json"
    assert bad.content == good.content[: len(good.content) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.content)


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("missing", lambda idx: len(idx) == 4 and len(set(idx)) == 4),
        ("duplicate", lambda idx: len(idx) == 5 and len(set(idx)) == 4),
        ("out-of-range", lambda idx: 5 in idx and len(idx) == 5),
        ("negative", lambda idx: -1 in idx and len(idx) == 5),
    ],
)
async def test_indices_faults(
    make_emu: EmuFactory, mode: str, check: Callable[[list[int]], bool]
) -> None:
    emu = await faulty(make_emu, f"indices={mode},count=1")
    bad, good = await rank(emu), await rank(emu)
    indices = [r["index"] for r in bad.json()["rankings"]]
    assert check(indices)
    assert sorted(r["index"] for r in good.json()["rankings"]) == [0, 1, 2, 3, 4]


async def test_duplicate_index_with_one_passage_repeats_the_entry(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "indices=duplicate")
    response = await emu.rank(passages=("only",))
    assert [r["index"] for r in response.json()["rankings"]] == [0, 0]


async def test_unsorted_ascending(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "unsorted")
    logits = [r["logit"] for r in (await rank(emu)).json()["rankings"]]
    assert logits == sorted(logits)
    assert logits != sorted(logits, reverse=True)


async def test_unsorted_index_order(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "unsorted=index")
    assert [r["index"] for r in (await rank(emu)).json()["rankings"]] == [0, 1, 2, 3, 4]


async def test_unsorted_shuffled_is_deterministic_and_not_sorted(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "unsorted=shuffled")
    first, second = await rank(emu), await rank(emu)
    logits = [r["logit"] for r in first.json()["rankings"]]
    assert first.content == second.content
    assert logits != sorted(logits, reverse=True)
    assert sorted(r["index"] for r in first.json()["rankings"]) == [0, 1, 2, 3, 4]


async def test_unsorted_shuffled_never_returns_the_sorted_order(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "unsorted=shuffled")
    for n in range(2, 7):
        response = await emu.rank(query="a", passages=tuple("a " * (n - i) for i in range(n)))
        assert [r["index"] for r in response.json()["rankings"]] != list(range(n))


async def test_body_faults_wait_for_a_successful_answer(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "indices=missing,count=1")
    invalid = await emu.client.post(GENERIC, json={"query": "q"}, headers=AUTH)
    ok = await rank(emu)
    assert invalid.status_code == 422
    assert len(ok.json()["rankings"]) == 4
    assert emu.state.faults[0].remaining == 0


async def test_status_fault_preempts_body_faults_without_using_them(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "status=500,count=1", "unsorted=index,count=1")
    first, second = await rank(emu), await rank(emu)
    assert first.status_code == 500
    assert [r["index"] for r in second.json()["rankings"]] == [0, 1, 2, 3, 4]


async def test_slow_body_trickles_the_body(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "slow-body=200,count=1")
    start = time.perf_counter()
    slow = await rank(emu)
    elapsed = time.perf_counter() - start
    fast = await rank(emu)
    assert slow.content == fast.content
    assert elapsed >= 0.8 * 0.200
    assert [r.outcome for r in emu.state.requests] == ["answered", "answered"]


async def test_slow_body_headers_arrive_before_the_body(make_socket_emu: EmuFactory) -> None:
    # Server only: ASGITransport buffers the body, so in-process headers and body arrive together.
    emu = await faulty(make_socket_emu, "slow-body=300,count=1")
    start = time.perf_counter()
    async with emu.client.stream("POST", GENERIC, json=body(), headers=AUTH) as response:
        headers_at = time.perf_counter() - start
        chunks = [chunk async for chunk in response.aiter_raw()]
        body_at = time.perf_counter() - start
    assert response.status_code == 200
    assert len(chunks) > 1
    assert body_at - headers_at >= 0.5 * 0.300


async def test_deprecation_header_on_success_only(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "deprecation=2026-12-01")
    ok = await rank(emu)
    denied = await emu.client.post(GENERIC, json=body())
    assert ok.headers["deprecation"] == "2026-12-01"
    assert "deprecation" not in denied.headers


# ---- accepted (202) and polling --------------------------------------------------------------


async def test_accepted_then_polled_result(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "accepted,count=1", "deprecation=2026-12-01,count=1")
    accepted = await rank(emu)
    request_id = accepted.headers["nvcf-reqid"]
    assert accepted.status_code == 202
    assert accepted.content == b""
    assert accepted.headers["nvcf-status"] == "in-progress"
    assert accepted.headers["deprecation"] == "2026-12-01"
    unauthorised = await emu.client.get(f"/v2/nvcf/pexec/status/{request_id}")
    result = await emu.client.get(f"/v2/nvcf/pexec/status/{request_id}", headers=AUTH)
    direct = await rank(emu)
    again = await emu.client.get(f"/v2/nvcf/pexec/status/{request_id}", headers=AUTH)
    assert unauthorised.status_code == 401
    assert result.status_code == 200
    assert result.headers["nvcf-status"] == "fulfilled"
    assert result.headers["nvcf-reqid"] == request_id
    assert result.content == direct.content
    assert again.status_code == 404
    assert again.json() == {
        "status": 404,
        "title": "Not Found",
        "detail": f"Request '{request_id}' not found",
    }


async def test_accepted_with_pending_polls(make_emu: EmuFactory) -> None:
    emu = await faulty(make_emu, "accepted=2,count=1")
    request_id = (await rank(emu)).headers["nvcf-reqid"]
    polls = [
        await emu.client.get(f"/v2/nvcf/pexec/status/{request_id}", headers=AUTH) for _ in range(3)
    ]
    assert [p.status_code for p in polls] == [202, 202, 200]
    assert polls[0].headers["nvcf-status"] == "in-progress"
    assert polls[0].headers["nvcf-reqid"] == request_id
    assert len(polls[2].json()["rankings"]) == 5
