"""Hostile input: deeply nested JSON and YAML, huge bodies, a config passed positionally.

Other projects run the emulator in their tests, so nothing a client or a cassette sends may
crash it (a 500), break its request log for good, or hold memory without bound.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from nim_emulator import (
    CassetteError,
    EmulatorConfig,
    EmulatorConfigError,
    cli,
    create_app,
    load_cassette,
)
from nim_emulator._json import MAX_DEPTH
from nim_emulator.testing import (
    AsyncEmulatorTransport,
    EmulatorTransport,
    InProcessEmulator,
    ServedEmulator,
)

from ._support import AUTH, GENERIC, KEY, body

pytestmark = pytest.mark.anyio

DEEP = 5000


def nested(depth: int, leaf: str = "1") -> str:
    """A JSON text of ``depth`` nested lists."""
    return "[" * depth + leaf + "]" * depth


def client_for(**config: Any) -> httpx.AsyncClient:
    app = create_app(EmulatorConfig(**config))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu.test")


# ---- deeply nested JSON bodies ---------------------------------------------------------------


async def test_a_deeply_nested_body_is_a_hosted_422_not_a_500() -> None:
    async with client_for(api_key=KEY) as client:
        response = await client.post(GENERIC, content=nested(DEEP), headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert detail == (
        "body\n  recursion limit exceeded: JSON nested deeper than 128 levels (type=json_invalid)"
    )


@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [
        (
            "/v1/ranking",
            400,
            {
                "object": "error",
                "message": "body: recursion limit exceeded: JSON nested deeper than 128 levels",
            },
        ),
        (
            "/v1/rerank",
            422,
            {
                "detail": [
                    {
                        "type": "json_invalid",
                        "loc": ["body"],
                        "msg": "recursion limit exceeded: JSON nested deeper than 128 levels",
                    }
                ]
            },
        ),
    ],
)
async def test_a_deeply_nested_body_is_each_routes_malformed_json_answer(
    path: str, status: int, expected: dict[str, Any]
) -> None:
    async with client_for() as client:
        response = await client.post(path, content=nested(DEEP), headers=AUTH)
    assert (response.status_code, response.json()) == (status, expected)


@pytest.mark.parametrize(("depth", "kind"), [(MAX_DEPTH, "schema"), (MAX_DEPTH + 1, "json")])
async def test_the_nesting_bound_is_128_levels(depth: int, kind: str) -> None:
    # The body object is level 1 and "query" level 2: its value adds depth - 2 more levels.
    text = json.dumps(body(model="nvidia/rerank-qa-mistral-4b"))
    text = text.replace('{"text": "which way should i go"}', nested(depth - 1))
    async with client_for() as client:
        response = await client.post(GENERIC, content=text, headers=AUTH)
    assert response.status_code == 422
    detail = response.json()["detail"]
    if kind == "json":
        assert "recursion limit exceeded" in detail
    else:
        assert detail.startswith("body -> query\n  Input should be a valid dictionary")


async def test_the_request_log_stays_readable_after_a_deep_body() -> None:
    app = create_app(EmulatorConfig())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emu.test") as client:
        await client.post(GENERIC, content=nested(DEEP), headers=AUTH)
        await client.post(GENERIC, content=nested(MAX_DEPTH + 1), headers=AUTH)
        assert (await client.post(GENERIC, json=body(), headers=AUTH)).status_code == 200
        log = await client.get("/_emulator/requests")
        again = await client.get("/_emulator/requests")
    assert log.status_code == again.status_code == 200
    records = log.json()["requests"]
    assert [r["status"] for r in records] == [422, 422, 200]
    assert [(r["is_json"], r["json"] is None) for r in records] == [
        (False, True),
        (False, True),
        (True, False),
    ]
    assert records[0]["body"] == nested(DEEP)
    assert [r.seq for r in app.state.emulator.requests] == [1, 2, 3]


async def test_a_deeply_nested_control_body_is_a_400() -> None:
    async with client_for() as client:
        faults = await client.post("/_emulator/faults", content=nested(DEEP))
        replay = await client.post("/_emulator/replay", content=nested(DEEP))
    assert faults.status_code == replay.status_code == 400
    assert "recursion limit exceeded" in faults.json()["error"]


# ---- a bounded request log -------------------------------------------------------------------


async def test_a_body_past_the_log_limit_keeps_its_first_bytes_and_a_digest() -> None:
    payload = json.dumps(body(passages=("x" * 5000,))).encode()
    async with client_for(log_body_limit=1000) as client:
        response = await client.post(GENERIC, content=payload, headers=AUTH)
        record = (await client.get("/_emulator/requests")).json()["requests"][0]
    assert response.status_code == 200
    assert record["body"] == payload[:1000].decode()
    assert (record["body_size"], record["body_truncated"]) == (len(payload), True)
    assert record["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert (record["json"], record["is_json"]) == (None, False)


async def test_a_body_within_the_log_limit_is_kept_whole() -> None:
    payload = json.dumps(body()).encode()
    async with client_for(log_body_limit=len(payload)) as client:
        await client.post(GENERIC, content=payload, headers=AUTH)
        record = (await client.get("/_emulator/requests")).json()["requests"][0]
    assert (record["body"], record["body_truncated"], record["body_sha256"]) == (
        payload.decode(),
        False,
        None,
    )
    assert record["json"] == body()


async def test_the_default_log_keeps_one_mib_of_a_large_body() -> None:
    payload = b'{"model": "' + b"m" * (3 << 20) + b'"}'
    app = create_app(EmulatorConfig())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emu.test") as client:
        for _ in range(3):
            await client.post(GENERIC, content=payload, headers=AUTH)
    records = app.state.emulator.requests
    assert [len(r.body) for r in records] == [1 << 20] * 3
    assert all(r.body_size == len(payload) for r in records)


async def test_a_key_across_the_log_limit_is_redacted_before_the_cut() -> None:
    text = "a" * 90 + KEY + "b" * 200
    async with client_for(api_key=KEY, log_body_limit=100) as client:
        await client.post(GENERIC, content=text, headers=AUTH)
        record = (await client.get("/_emulator/requests")).json()["requests"][0]
    assert record["body"].startswith("a" * 90 + "<redacted")
    assert KEY[:10] not in record["body"] and len(record["body"]) == 100


def test_the_log_limit_refuses_unusable_values() -> None:
    with pytest.raises(EmulatorConfigError, match="log_body_limit must be a whole number >= 0"):
        EmulatorConfig(log_body_limit=-1)


# ---- cassettes that break it -----------------------------------------------------------------


def deep_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\ninteractions: []\nprovenance: " + nested(DEEP) + "\n")
    return path


def test_a_deeply_nested_yaml_cassette_is_a_cassette_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError) as caught:
        load_cassette(deep_yaml(tmp_path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith("is not a usable cassette: its YAML is nested too deeply")


def test_replaying_a_deeply_nested_yaml_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="reranker-nvidia emulator")
    cli.configure(parser)
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["--replay", str(deep_yaml(tmp_path))])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert "Traceback" not in err
    assert err.splitlines()[-1].endswith("its YAML is nested too deeply")
    assert err.splitlines()[-1].startswith("reranker-nvidia emulator: error: argument --replay:")


def cassette(request_body: str, response_body: str, status: int = 200) -> dict[str, Any]:
    return {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "POST", "uri": f"http://x{GENERIC}", "body": request_body},
                "response": {
                    "status": {"code": status, "message": "OK"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"string": response_body},
                },
            }
        ],
    }


async def test_a_recorded_request_nested_5000_deep_does_not_make_requests_500() -> None:
    async with client_for() as client:
        loaded = await client.post("/_emulator/replay", json=cassette(nested(DEEP), "{}"))
        other = await client.post(GENERIC, json=body(), headers=AUTH)
        same = await client.post(GENERIC, content=nested(DEEP), headers=AUTH)
    assert loaded.status_code == 200
    assert other.status_code == 599  # no interaction matches: the replay answer, not a crash
    assert (same.status_code, same.text) == (200, "{}")  # compared as bytes, and served


async def test_a_recorded_answer_nested_5000_deep_is_replayed_as_bytes() -> None:
    async with client_for() as client:
        await client.post("/_emulator/replay", json=cassette("", nested(DEEP)))
        response = await client.post(GENERIC, headers=AUTH)
    assert (response.status_code, response.text) == (200, nested(DEEP))


async def test_rankings_faults_leave_a_deep_recorded_answer_alone() -> None:
    async with client_for(faults=[]) as client:
        await client.post("/_emulator/replay", json=cassette("", nested(DEEP)))
        await client.post("/_emulator/faults", json={"spec": "indices=missing"})
        response = await client.post(GENERIC, headers=AUTH)
    assert (response.status_code, response.text) == (200, nested(DEEP))


# ---- InProcessEmulator(EmulatorConfig(...)) --------------------------------------------------


def test_an_in_process_emulator_takes_its_config_positionally() -> None:
    with InProcessEmulator(EmulatorConfig(api_key=KEY)) as emulator:
        client = httpx.Client(transport=emulator.transport, base_url=emulator.base_url)
        with client:
            refused = client.post(GENERIC, json=body(), headers={"Authorization": "Bearer x"})
            accepted = client.post(GENERIC, json=body(), headers=AUTH)
    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert emulator.state.config.api_key == KEY


def test_a_served_emulator_takes_its_config_positionally() -> None:
    with ServedEmulator(EmulatorConfig(api_key=KEY)) as emulator:
        response = httpx.post(emulator.base_url + GENERIC, json=body(), headers=AUTH)
        wrong = httpx.post(
            emulator.base_url + GENERIC, json=body(), headers={"Authorization": "Bearer x"}
        )
    assert (response.status_code, wrong.status_code) == (200, 403)


async def test_the_transports_take_a_config_positionally() -> None:
    sync = EmulatorTransport(EmulatorConfig(api_key=KEY))
    with httpx.Client(transport=sync, base_url="http://emu.test") as client:
        assert client.post(GENERIC, json=body(), headers=AUTH).status_code == 200
    transport = AsyncEmulatorTransport(EmulatorConfig(api_key=KEY))
    async with httpx.AsyncClient(transport=transport, base_url="http://emu.test") as client:
        wrong = await client.post(GENERIC, json=body(), headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: InProcessEmulator("http://x"),  # type: ignore[arg-type]
            "the emulator takes an app from create_app() or an EmulatorConfig, not str",
        ),
        (
            lambda: InProcessEmulator(EmulatorConfig(), config=EmulatorConfig()),
            "give the emulator one EmulatorConfig, not two",
        ),
        (
            lambda: EmulatorTransport({"api_key": KEY}),  # type: ignore[arg-type]
            "the transport takes an app from create_app() or an EmulatorConfig, not dict",
        ),
        (
            lambda: InProcessEmulator(lambda scope, receive, send: None),  # type: ignore[arg-type]
            "the emulator takes an app from create_app() or an EmulatorConfig, not function",
        ),
    ],
)
def test_anything_else_is_refused_at_construction_in_one_line(make: Any, message: str) -> None:
    with pytest.raises(EmulatorConfigError) as caught:
        make()
    assert str(caught.value) == message
