"""Replay mode: vcrpy cassettes served in order, 599 for the unexpected, the unused report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from nim_emulator import (
    CassetteError,
    EmulatorConfig,
    FaultSpec,
    create_app,
    load_cassette,
    running_emulator,
)
from nim_emulator._cassette import bodies_match, parse_cassette

from ._support import GENERIC, Emu, EmuFactory, body

pytestmark = pytest.mark.anyio

HOST = "https://ai.api.nvidia.com"


def interaction(
    request_body: Any, response_body: str, *, status: int = 200, path: str = GENERIC
) -> dict[str, Any]:
    return {
        "request": {
            "method": "POST",
            "uri": HOST + path,
            "body": request_body if isinstance(request_body, str) else json.dumps(request_body),
            "headers": {"Content-Type": ["application/json"]},
        },
        "response": {
            "status": {"code": status, "message": "OK"},
            "headers": {
                "Content-Type": ["application/json"],
                "Content-Length": ["999"],
                "nvcf-status": ["fulfilled"],
            },
            "body": {"string": response_body},
        },
    }


FIRST = '{"rankings": [{"index": 1, "logit": 2.5}, {"index": 0, "logit": -3.0}]}'
SECOND = '{"rankings": [{"index": 0, "logit": 1.0}, {"index": 1, "logit": 0.5}]}'


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "cassette.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    request = body(passages=("a", "b"))
    return write(
        tmp_path,
        {
            "provenance": {"source": "hand-written for the emulator tests"},
            "version": 1,
            "interactions": [
                interaction(request, FIRST),
                interaction(request, SECOND),
                interaction(body(query="other"), '{"detail": "nope"}', status=422),
            ],
        },
    )


async def test_interactions_are_served_in_order_with_their_headers(
    make_emu: EmuFactory, cassette: Path
) -> None:
    emu = await make_emu(EmulatorConfig(replay=cassette))
    # key order and spacing differ from the cassette's body: compared as JSON
    request = json.dumps(body(passages=("a", "b")), indent=2, sort_keys=True)
    first = await emu.client.post(GENERIC, content=request)
    second = await emu.client.post(GENERIC, content=request)
    third = await emu.client.post(GENERIC, json=body(query="other"))
    assert (first.status_code, first.text) == (200, FIRST)
    assert (second.status_code, second.text) == (200, SECOND)
    assert (third.status_code, third.json()) == (422, {"detail": "nope"})
    assert first.headers["nvcf-status"] == "fulfilled"
    assert first.headers["content-length"] == str(len(FIRST))
    assert [r.interaction for r in emu.state.requests] == [0, 1, 2]
    report = (await emu.client.get("/_emulator/replay/unused")).json()
    assert report == {"unused": [], "served": 3, "total": 3, "cassette": str(cassette)}


async def test_unexpected_request_is_a_599_naming_what_was_expected(
    make_emu: EmuFactory, cassette: Path
) -> None:
    emu = await make_emu(EmulatorConfig(replay=cassette))
    response = await emu.client.post(GENERIC, json=body(query="surprise"))
    data = response.json()
    assert response.status_code == 599
    assert response.headers["content-type"] == "application/json"
    assert data["error"] == "reranker-nvidia emulator: no cassette interaction matches this request"
    assert data["received"]["method"] == "POST"
    assert data["received"]["path"] == GENERIC
    assert json.loads(data["received"]["body"])["query"] == {"text": "surprise"}
    assert data["expected"]["index"] == 0
    assert data["expected"]["uri"] == HOST + GENERIC
    assert data["reason"].startswith("body differ(s) from the next unserved interaction (#0)")
    assert emu.state.requests[0].status == 599


async def test_wrong_method_and_path_are_named_in_the_reason(
    make_emu: EmuFactory, cassette: Path
) -> None:
    emu = await make_emu(EmulatorConfig(replay=cassette))
    response = await emu.client.get("/v1/models")
    assert response.status_code == 599
    assert response.json()["reason"].startswith("method, path, body differ(s)")


async def test_exhausted_cassette_is_a_599_without_expectation(
    make_emu: EmuFactory, tmp_path: Path
) -> None:
    path = write(tmp_path, {"version": 1, "interactions": [interaction(body(), FIRST)]})
    emu = await make_emu(EmulatorConfig(replay=path))
    assert (await emu.client.post(GENERIC, json=body())).status_code == 200
    again = await emu.client.post(GENERIC, json=body())
    assert again.status_code == 599
    assert again.json()["expected"] is None
    assert again.json()["reason"] == "every interaction of the cassette has been served"


async def test_unused_report_lists_what_was_not_served(
    make_emu: EmuFactory, cassette: Path
) -> None:
    emu = await make_emu(EmulatorConfig(replay=cassette))
    await emu.client.post(GENERIC, json=body(query="other"))
    report = (await emu.client.get("/_emulator/replay/unused")).json()
    assert [u["index"] for u in report["unused"]] == [0, 1]
    assert (report["served"], report["total"]) == (1, 3)
    assert json.loads(report["unused"][0]["body"]) == body(passages=("a", "b"))


async def test_faults_apply_to_replayed_answers(make_emu: EmuFactory, cassette: Path) -> None:
    emu = await make_emu(
        EmulatorConfig(replay=cassette, faults=[FaultSpec.parse("unsorted=index,count=1")])
    )
    response = await emu.client.post(GENERIC, json=body(passages=("a", "b")))
    assert response.json()["rankings"] == [{"index": 0, "logit": -3.0}, {"index": 1, "logit": 2.5}]
    # re-rendered in the cassette body's own spacing
    assert response.text.startswith('{"rankings": [{"index": 0')


async def test_reset_rewinds_the_cassette(make_emu: EmuFactory, cassette: Path) -> None:
    emu = await make_emu(EmulatorConfig(replay=cassette))
    await emu.client.post(GENERIC, json=body(passages=("a", "b")))
    await emu.client.post("/_emulator/reset")
    response = await emu.client.post(GENERIC, json=body(passages=("a", "b")))
    assert response.text == FIRST


async def test_binary_and_empty_bodies(make_emu: EmuFactory, tmp_path: Path) -> None:
    text = (
        "version: 1\n"
        "interactions:\n"
        "- request: {method: get, uri: 'http://h/v1/models', body: null, headers: {}}\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers: {X-One: single-value, Date: [yesterday]}\n"
        "    body: {string: !!binary aGVsbG8=}\n"
        "- request: {method: POST, uri: 'http://h/raw', body: !!binary AAE=}\n"
        "  response: {status: {code: 204}, body: null}\n"
    )
    path = tmp_path / "binary.yaml"
    path.write_text(text, encoding="utf-8")
    emu = await make_emu(EmulatorConfig(replay=load_cassette(path)))
    models = await emu.client.get("/v1/models")
    raw = await emu.client.post("/raw", content=b"\x00\x01")
    assert (models.status_code, models.content) == (200, b"hello")
    assert models.headers["x-one"] == "single-value"
    assert models.headers.get("date") != "yesterday"
    assert (raw.status_code, raw.content) == (204, b"")


def test_bodies_match_as_json_or_bytes() -> None:
    assert bodies_match(b'{"a": [1, 2.0]}', b'{"a":[1.0,2]}')
    assert not bodies_match(b'{"a": true}', b'{"a": 1}')
    assert not bodies_match(b'{"a": 1}', b'{"a": 1, "b": 2}')
    assert not bodies_match(b"[1, 2]", b"[1]")
    assert not bodies_match(b'"1"', b"1")
    assert bodies_match(b"", b"")
    assert bodies_match(b"raw bytes", b"raw bytes")
    assert not bodies_match(b"raw bytes", b"raw  bytes")


def test_cassette_metadata_is_kept_and_ignored(cassette: Path) -> None:
    loaded = load_cassette(cassette)
    assert loaded.metadata == {"provenance": {"source": "hand-written for the emulator tests"}}
    assert [i.index for i in loaded.interactions] == [0, 1, 2]
    assert loaded.interactions[0].path == GENERIC


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the top level must be a mapping"),
        ({"interactions": []}, "version must be 1 (vcrpy's format), not None"),
        ({"version": 1, "interactions": {}}, "'interactions' must be a list"),
        ({"version": 1, "interactions": [3]}, "interaction 0: must be a mapping"),
        ({"version": 1, "interactions": [{"request": {}}]}, "needs a 'request' mapping"),
        (
            {"version": 1, "interactions": [{"request": {"uri": "/"}, "response": {}}]},
            "request.method must be a string",
        ),
        (
            {"version": 1, "interactions": [{"request": {"method": "GET"}, "response": {}}]},
            "request.uri must be a string",
        ),
        (
            {
                "version": 1,
                "interactions": [
                    {
                        "request": {"method": "GET", "uri": "/"},
                        "response": {"status": {"code": 1000}},
                    }
                ],
            },
            "response.status.code must be an HTTP status code",
        ),
        (
            {
                "version": 1,
                "interactions": [
                    {
                        "request": {"method": "GET", "uri": "/", "body": 5},
                        "response": {"status": {"code": 200}},
                    }
                ],
            },
            "request.body must be a string, bytes or null, not int",
        ),
        (
            {
                "version": 1,
                "interactions": [
                    {
                        "request": {"method": "GET", "uri": "/"},
                        "response": {"status": {"code": 200}, "headers": []},
                    }
                ],
            },
            "response.headers must be a mapping",
        ),
        (
            {
                "version": 1,
                "interactions": [
                    {
                        "request": {"method": "GET", "uri": "/"},
                        "response": {"status": {"code": 200}, "headers": {"A": [None]}},
                    }
                ],
            },
            "header 'A' has a non-text value",
        ),
    ],
)
def test_bad_cassettes_raise_a_clear_error(data: Any, message: str) -> None:
    with pytest.raises(CassetteError) as info:
        parse_cassette(data, source="c.yaml")
    assert message in str(info.value)
    assert "c.yaml" in str(info.value)


def test_unreadable_cassettes_raise_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="cannot read cassette"):
        load_cassette(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [", encoding="utf-8")
    with pytest.raises(CassetteError, match="is not valid YAML"):
        load_cassette(bad)
    with pytest.raises(CassetteError, match="cannot read cassette"):
        create_app(EmulatorConfig(replay=tmp_path / "missing.yaml"))


def test_a_cassette_recorded_by_vcrpy_replays(tmp_path: Path) -> None:
    vcr = pytest.importorskip("vcr")
    path = tmp_path / "recorded.yaml"
    request = body(passages=("go", "stay"))
    with running_emulator(EmulatorConfig(api_key="k")) as url:
        recorder = vcr.VCR(filter_headers=["authorization"], record_mode="all")
        with recorder.use_cassette(str(path)), httpx.Client(base_url=url) as client:
            live = client.post(GENERIC, json=request, headers={"Authorization": "Bearer k"})
    assert "Bearer k" not in path.read_text(encoding="utf-8")
    with running_emulator(EmulatorConfig(replay=path)) as url, httpx.Client(base_url=url) as client:
        replayed = client.post(GENERIC, json=request)
        unused = client.get("/_emulator/replay/unused").json()
    assert replayed.status_code == 200
    assert replayed.content == live.content
    assert replayed.headers["nvcf-reqid"] == live.headers["nvcf-reqid"]
    assert unused["unused"] == []


async def test_replay_needs_no_key(make_emu: EmuFactory, cassette: Path) -> None:
    emu: Emu = await make_emu(EmulatorConfig(api_key="k", replay=cassette))
    response = await emu.client.post(GENERIC, json=body(passages=("a", "b")))
    assert response.status_code == 200


async def test_a_cassette_can_be_loaded_and_unloaded_at_run_time(emu: Emu) -> None:
    cassette = {
        "provenance": {"kind": "hand-built", "source": "test"},
        "version": 1,
        "interactions": [interaction(body(passages=("a", "b")), FIRST)],
    }
    loaded = await emu.client.post("/_emulator/replay", json=cassette)
    replayed = await emu.client.post(GENERIC, json=body(passages=("a", "b")))
    report = (await emu.client.get("/_emulator/replay/unused")).json()
    unloaded = await emu.client.delete("/_emulator/replay")
    emulated = await emu.client.post(GENERIC, json=body(passages=("a", "b")))
    assert loaded.json() == {"replay": True, "interactions": 1}
    assert replayed.text == FIRST
    assert report["cassette"] == "POST /_emulator/replay"
    assert report["served"] == 1
    assert unloaded.json() == {"replay": False}
    assert emulated.status_code == 401  # emulating again: the hosted route wants a key


async def test_reset_restores_the_start_up_cassette(make_emu: EmuFactory, cassette: Path) -> None:
    emu = await make_emu(EmulatorConfig(replay=cassette))
    emu.state.use_cassette(parse_cassette({"version": 1, "interactions": []}))
    assert emu.state.unused_interactions() == []
    await emu.client.post("/_emulator/reset")
    assert len(emu.state.unused_interactions()) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "Expecting property name"),
        (b'{"version": 2, "interactions": []}', "version must be 1"),
    ],
)
async def test_loading_a_bad_cassette_is_a_400(emu: Emu, content: bytes, message: str) -> None:
    response = await emu.client.post("/_emulator/replay", content=content)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert emu.state.cassette is None


@pytest.mark.parametrize("rankings", ["[]", "[1, 2]", '"none"'])
async def test_ranking_faults_leave_odd_replayed_rankings_alone(
    make_emu: EmuFactory, tmp_path: Path, rankings: str
) -> None:
    text = '{"rankings": ' + rankings + "}"
    path = write(tmp_path, {"version": 1, "interactions": [interaction(body(), text)]})
    emu = await make_emu(
        EmulatorConfig(replay=path, faults=[FaultSpec.parse("indices=missing,count=1")])
    )
    response = await emu.client.post(GENERIC, json=body())
    assert response.text == text
    assert emu.state.faults[0].remaining == 1
