"""``rerank --usage`` and ``rerank --cache``, against the emulator on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator
from tests.cli._support import cli

MODEL = "nvidia/llama-nemotron-rerank-1b-v2"
DOCS = b"Library hours 9-5.\nCafeteria 8-8.\nGym 6-10.\nThe library lends films.\n"


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[str, Any]]:
    app = create_app(EmulatorConfig(include_usage=True))
    with running_emulator(app=app) as base:
        yield base, app.state.emulator


@pytest.fixture
def served(_server: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    monkeypatch.setenv("NVIDIA_APIKEY", "env-key")
    base, state = _server
    state.clear_faults()
    state.reset()
    return base, state


def rerank(base: str, *flags: str, stdin: bytes = DOCS) -> tuple[int, str, str]:
    common = ["--base-url", base, "--model", MODEL, "--endpoint", "ranking"]
    return cli("rerank", "--query", "library", *common, *flags, stdin=stdin)


def test_usage_in_json_output(served: tuple[str, Any]) -> None:
    base, state = served
    state.add_fault("status=503,count=1,retry-after=0")
    status, out, err = rerank(
        base, "--usage", "--output", "json", "--max-documents", "3", "--retries", "1"
    )
    assert status == 0, err
    usage = json.loads(out)["usage"]
    assert {k: usage[k] for k in ("requests", "chunks", "passages", "cache_hits")} == {
        "requests": 3,
        "chunks": 2,
        "passages": 4,
        "cache_hits": 0,
    }
    assert isinstance(usage["total_tokens"], int) and usage["total_tokens"] > 0
    assert usage["prompt_tokens"] == usage["total_tokens"]
    assert "usage:" not in err  # the JSON carries it


def test_usage_is_one_footer_line_on_stderr_in_table_mode(served: tuple[str, Any]) -> None:
    base, _ = served
    status, out, err = rerank(base, "--usage")
    assert status == 0
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("usage: 1 request, 1 chunk, 4 passages, 0 cache hits, tokens ")
    assert "usage" not in out


def test_usage_with_search_results_is_a_footer_too(served: tuple[str, Any]) -> None:
    base, _ = served
    objects = b"".join(json.dumps({"t": t}).encode() + b"\n" for t in ("library", "gym"))
    status, out, err = rerank(base, "--usage", "--property", "t", "--output", "json", stdin=objects)
    assert status == 0
    assert len(out.splitlines()) == 2
    assert err.startswith("usage: 1 request, 1 chunk, 2 passages, 0 cache hits")


def test_without_usage_nothing_is_reported(served: tuple[str, Any]) -> None:
    base, _ = served
    status, out, err = rerank(base, "--output", "json")
    assert status == 0
    assert "usage" not in json.loads(out)
    assert err == ""


def test_a_second_run_with_a_sqlite_cache_sends_nothing(
    served: tuple[str, Any], tmp_path: Path
) -> None:
    base, state = served
    spec = f"sqlite:{tmp_path / 'scores.db'}"
    first = rerank(base, "--cache", spec, "--usage", "--output", "json")
    assert len(state.requests) == 1
    second = rerank(base, "--cache", spec, "--usage", "--output", "json")
    assert len(state.requests) == 1
    one, two = json.loads(first[1]), json.loads(second[1])
    assert one["results"] == two["results"]
    assert (two["usage"]["requests"], two["usage"]["cache_hits"]) == (0, 1)


def test_a_bad_cache_spec_is_one_line_and_nothing_is_sent(served: tuple[str, Any]) -> None:
    base, state = served
    status, out, err = rerank(base, "--cache", "disk")
    assert status == 1
    assert out == ""
    assert err.splitlines() == [
        'error: cache must be memory, memory:N (N ≥ 1) or sqlite:PATH, not "disk"'
    ]
    assert state.requests == []
