"""Re-recording cassettes, tested end to end against the emulator before anyone has a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nim_emulator import EmulatorConfig, load_cassette, running_emulator
from reranker_contracts.cassettes import problems, read_cassette
from reranker_contracts.record import RecordError, record, recordable
from reranker_nvidia import ClassBasedModuleConfig, Client
from tests.conftest import LIVE_API_KEY

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"


def test_the_recordable_cassettes_are_the_harmless_ones() -> None:
    assert [p.stem for p in recordable(CASSETTES)] == [
        "error-404-unknown-model",
        "hosted-generic-rerank-qa-mistral-4b",
    ]


def test_record_then_replay_through_the_emulator(tmp_path: Path) -> None:
    with running_emulator(EmulatorConfig(api_key="recording-key")) as base_url:
        written = record(CASSETTES, tmp_path, base_url=base_url, api_key="recording-key")
    assert [p.name for p in written] == [
        "error-404-unknown-model.yaml",
        "hosted-generic-rerank-qa-mistral-4b.yaml",
    ]
    for path in written:
        assert problems(path) == []
        text = path.read_text()
        assert "recording-key" not in text
        assert "Authorization" not in text
        provenance = read_cassette(path).metadata["provenance"]
        # Never labelled as NVIDIA's: it came from the emulator.
        assert provenance["kind"] == "emulator"
        assert provenance["source"].endswith(f"from {base_url} (not NVIDIA's service)")
        assert provenance["recordable"] is True

    hosted = read_cassette(tmp_path / "hosted-generic-rerank-qa-mistral-4b.yaml").interactions[0]
    assert hosted.status == 200
    recorded = json.loads(hosted.response_body)["rankings"]
    expected = [next(r["logit"] for r in recorded if r["index"] == i) for i in range(2)]

    # Replay the recording: the client gets exactly what was recorded.
    cassette = load_cassette(tmp_path / "hosted-generic-rerank-qa-mistral-4b.yaml")
    with running_emulator(EmulatorConfig(replay=cassette)) as base_url:
        cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": base_url})
        with Client("any-key") as client:
            result = client.rank(
                "What are the library hours?", ["Cafeteria 8-8.", "Library 9-10."], cfg
            )
    assert [s.score for s in result.document_scores] == expected

    unknown = read_cassette(tmp_path / "error-404-unknown-model.yaml").interactions[0]
    assert unknown.status == 404
    assert "Available models are:" in unknown.response_body.decode()


def test_recorded_cassettes_load_in_vcrpy(tmp_path: Path) -> None:
    from vcr.serialize import deserialize
    from vcr.serializers import yamlserializer

    for path in sorted(CASSETTES.glob("*.yaml")):
        requests, responses = deserialize(path.read_text(), yamlserializer)
        assert len(requests) == len(responses) >= 1
        assert yaml.safe_load(path.read_text())["provenance"]["kind"]


def test_recording_needs_a_key_unless_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="NVIDIA_APIKEY is not set: nothing recorded"):
        record(CASSETTES, tmp_path, api_key=None)
    with pytest.raises(RecordError, match="no recordable cassette matches"):
        record(CASSETTES, tmp_path, names=["error-429-too-many-requests"], api_key="k")


@pytest.mark.live
@pytest.mark.skipif(not LIVE_API_KEY, reason="NVIDIA_APIKEY is not set")
def test_record_live_from_nvidia(tmp_path: Path) -> None:
    (written,) = record(
        CASSETTES, tmp_path, names=["hosted-generic-rerank-qa-mistral-4b"], api_key=LIVE_API_KEY
    )
    provenance = read_cassette(written).metadata["provenance"]
    assert provenance["kind"] == "recorded-live"
    assert provenance["source"].startswith("recorded live ")
    assert LIVE_API_KEY not in written.read_text()
