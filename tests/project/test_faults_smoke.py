"""``benchmarks/faults.py --quick`` runs, writes a result of the documented shape, finds nothing.

A smoke run only (a dozen calls per fault, seconds of load): the three columns that must be
zero (wrong result, hang past the timeout, untyped exception) are zero, every SSRF base URL is
refused and nothing reached the loopback listener, and the key is found nowhere. The scanner
itself is checked on a planted key, so that a scan that looks at nothing cannot pass.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

FAULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "faults.py"
ROW_KEYS = {
    "fault",
    "client",
    "retries",
    "calls",
    "faulted",
    "correct",
    "correct_after_retry",
    "typed_error",
    "wrong_result",
    "hang",
    "untyped",
    "typed_error_message",
}


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("faults_harness", FAULTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("faults")
    done = subprocess.run(
        [sys.executable, str(FAULTS), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    (path,) = out.glob("faults-*-quick.json")
    assert path.with_suffix(".md").read_text().startswith("Made by `")
    result: dict[str, object] = json.loads(path.read_text())
    result["_returncode"] = done.returncode
    result["_stdout"] = done.stdout[-3000:] + done.stderr[-3000:]
    return result


def test_every_fault_ran_for_both_clients_with_retries_off_and_on(
    quick_result: dict[str, object],
) -> None:
    harness = _harness()
    rows = quick_result["faults"]
    assert isinstance(rows, list)
    assert {(r["fault"], r["client"], r["retries"]) for r in rows} == {
        (name, client, retries)
        for name, _, _ in harness.FAULTS
        for client in ("sync", "async")
        for retries in (0, 3)
    }
    for row in rows:
        assert set(row) >= ROW_KEYS
        outcomes = ("correct", "correct_after_retry", "typed_error", "wrong_result", "untyped")
        assert sum(row[key] for key in outcomes) == row["calls"] == 12, row


def test_the_three_must_be_zero_columns_are_zero(quick_result: dict[str, object]) -> None:
    rows = quick_result["faults"]
    assert isinstance(rows, list)
    bad = [r for r in rows if r["wrong_result"] or r["hang"] or r["untyped"]]
    assert bad == [], bad
    zero = quick_result["zero"]
    assert isinstance(zero, dict)
    assert zero["calls"] == sum(r["calls"] for r in rows) > 0
    # RSS after a seconds-long load run is noise; it is judged in the full run only.
    assert {k: v for k, v in zero.items() if k not in ("calls", "load_growth")} == {
        "wrong_result": 0,
        "hang": 0,
        "untyped": 0,
        "load_errors": 0,
        "ssrf_not_refused": 0,
        "ssrf_listener_connections": 0,
    }, quick_result["_stdout"]


def test_faults_are_seen_and_retries_recover_from_them(quick_result: dict[str, object]) -> None:
    rows = {(r["spec"], r["client"], r["retries"]): r for r in quick_result["faults"]}  # type: ignore[attr-defined]
    for client in ("sync", "async"):
        assert rows[("status=500", client, 0)]["typed_error"] == 3
        assert rows[("status=500", client, 3)]["correct_after_retry"] == 3
        assert "status: 500" in rows[("status=500", client, 0)]["typed_error_message"]
        assert rows[("own:redirect", client, 0)]["typed_error_message"].startswith("RedirectError")


def test_load_ssrf_and_secrets(quick_result: dict[str, object]) -> None:
    load = quick_result["load"]
    assert isinstance(load, list) and len(load) == 4
    for row in load:
        assert row["calls"] > 0 and row["errors"] == 0, row
        assert row["fds_after"] <= row["fds_before"], row
    ssrf = quick_result["ssrf"]
    assert isinstance(ssrf, dict)
    assert ssrf["total"] >= 50 and ssrf["refused"] == ssrf["total"]
    assert ssrf["listener_connections"] == 0
    assert any(r["outcome"].startswith("DialRefusedError") for r in ssrf["rows"])
    secrets = quick_result["secrets"]
    assert isinstance(secrets, dict)
    assert secrets["hits"] == 0, secrets["where"]
    assert secrets["scanned"]["exception message"] > 0 and secrets["scanned"]["log line"] > 0


def test_the_scanner_finds_a_planted_key() -> None:
    harness = _harness()
    scan = harness.SecretScan()
    inner = ValueError("clean")
    inner.headers = {"authorization": f"Bearer {harness.CANARY}"}  # type: ignore[attr-defined]
    outer = RuntimeError("clean too")
    outer.__cause__ = inner
    scan.exception(outer)
    assert scan.hits == ["exception __cause__ .headers"]
