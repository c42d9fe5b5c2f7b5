"""The ``/_emulator/`` control routes and ``app.state.emulator``: request log, faults, reset."""

from __future__ import annotations

import pytest

from nim_emulator import EmulatorConfig, FaultSpec

from ._support import AUTH, GENERIC, KEY, Emu, EmuFactory, body

pytestmark = pytest.mark.anyio


async def test_request_log_records_the_request_without_the_key(emu: Emu) -> None:
    await emu.client.post(
        GENERIC + f"?note=x&key={KEY}",
        json=body(query=f"secret {KEY} inside"),
        headers={**AUTH, "X-Nvidia-Api-Key": "nvapi-other-secret", "X-Custom": f"v={KEY}"},
    )
    response = await emu.client.get("/_emulator/requests")
    records = response.json()["requests"]
    record = records[0]
    assert response.status_code == 200
    assert KEY not in response.text
    assert "nvapi-other-secret" not in response.text
    assert len(records) == 1
    assert record["seq"] == 1
    assert (record["method"], record["path"]) == ("POST", GENERIC)
    assert record["query"] == "note=x&key=<redacted>"
    assert record["headers"]["authorization"] == "Bearer <redacted>"
    assert record["headers"]["x-nvidia-api-key"] == "<redacted>"
    assert record["headers"]["x-custom"] == "v=<redacted>"
    assert record["json"]["query"] == {"text": "secret <redacted> inside"}
    assert record["is_json"] is True
    assert record["body"].startswith('{"model":')
    assert (record["status"], record["outcome"], record["auth"]) == (200, "answered", "valid")
    assert record["tcp_nodelay"] is (True if emu.mode == "server" else None)


async def test_request_log_keeps_non_json_bodies_as_text(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(api_key="k"))
    await emu.client.post(GENERIC, content=b"plain words k", headers={"Authorization": "Bearer k"})
    record = emu.state.requests[0]
    # a one-letter key is not replaced inside other text (only secrets of 8+ characters are)
    assert record.headers["authorization"] == "Bearer <redacted>"
    assert record.body == "plain words k"
    assert (record.is_json, record.json, record.status) == (False, None, 422)


async def test_request_log_copies_cannot_change_the_log(emu: Emu) -> None:
    await emu.rank()
    copy = emu.state.requests[0]
    copy.headers.clear()
    copy.faults.append("x")
    assert emu.state.requests[0].headers
    assert emu.state.requests[0].faults == []


async def test_arm_faults_by_spec_by_fields_and_as_a_list(emu: Emu) -> None:
    one = await emu.client.post("/_emulator/faults", json={"spec": "status=429,count=1"})
    many = await emu.client.post(
        "/_emulator/faults",
        json=[{"kind": "status", "status": 502, "count": 1}, {"spec": "unsorted=index"}],
    )
    listed = await emu.client.get("/_emulator/faults")
    assert one.status_code == 201
    assert one.json()["armed"][0]["spec"] == "status=429,count=1"
    assert [f["spec"] for f in many.json()["armed"]] == ["status=502,count=1", "unsorted=index"]
    assert [f["id"] for f in listed.json()["faults"]] == [1, 2, 3]
    statuses = [(await emu.rank()).status_code for _ in range(3)]
    assert statuses == [429, 502, 200]
    after = (await emu.client.get("/_emulator/faults")).json()["faults"]
    assert [(f["remaining"], f["applied"]) for f in after] == [(0, 1), (0, 1), (None, 1)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "the body must be JSON"),
        (b'{"spec": "status=99"}', "status must be a code from 400 to 599"),
        (b'[{"spec": "drop"}, 5]', "a fault must be a JSON object"),
    ],
)
async def test_bad_faults_are_a_400_and_arm_nothing(emu: Emu, content: bytes, message: str) -> None:
    response = await emu.client.post("/_emulator/faults", content=content)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert emu.state.faults == []


async def test_delete_faults_disarms_everything(make_emu: EmuFactory) -> None:
    emu = await make_emu(EmulatorConfig(faults=[FaultSpec.parse("status=500")]))
    response = await emu.client.delete("/_emulator/faults")
    ranking = await emu.client.post(
        "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2")
    )
    assert response.json() == {"faults": []}
    assert ranking.status_code == 200


async def test_reset_clears_the_log_and_rearms_start_up_faults(make_emu: EmuFactory) -> None:
    emu = await make_emu(
        EmulatorConfig(api_key=KEY, faults=[FaultSpec.parse("status=503,count=1")])
    )
    emu.state.add_fault("status=500,count=5")
    assert (await emu.rank()).status_code == 503
    assert (await emu.rank()).status_code == 500
    response = await emu.client.post("/_emulator/reset")
    assert response.json() == {"reset": True}
    assert emu.state.requests == []
    assert [(f.spec.to_spec(), f.remaining) for f in emu.state.faults] == [
        ("status=503,count=1", 1)
    ]
    assert (await emu.rank()).status_code == 503
    assert (await emu.rank()).status_code == 200


async def test_add_fault_and_reset_from_python(emu: Emu) -> None:
    armed = emu.state.add_fault(FaultSpec.parse("status=429,count=1"))
    assert (armed.id, armed.remaining) == (1, 1)
    assert (await emu.rank()).status_code == 429
    emu.state.reset()
    assert emu.state.requests == []
    assert emu.state.faults == []
    emu.state.add_fault("malformed-json,count=1")
    emu.state.clear_faults()
    assert (await emu.rank()).status_code == 200


async def test_replay_report_outside_replay_mode_is_409(emu: Emu) -> None:
    response = await emu.client.get("/_emulator/replay/unused")
    assert response.status_code == 409
    assert response.json() == {"error": "the emulator is not in replay mode (no cassette)"}
    assert emu.state.unused_interactions() == []
