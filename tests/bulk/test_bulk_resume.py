"""Resume sends only what the output lacks; Ctrl-C leaves a resumable output and exits 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reranker_nvidia.bulk import read_rows
from reranker_nvidia.cli.main import main
from tests.bulk.conftest import Emulator, table

ROOT = Path(__file__).resolve().parents[2]


def _pairs(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((str(r["query_id"]), str(r["passage_id"])) for r in rows)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _input(tmp_path: Path, rows: list[dict[str, Any]], suffix: str) -> Path:
    source = tmp_path / f"pairs{suffix}"
    if suffix == ".parquet":
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), source)
    else:
        _write_jsonl(source, rows)
    return source


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_resume_sends_only_the_groups_not_yet_scored(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(8, 6)
    source = _input(tmp_path, rows, ".parquet" if suffix == ".parquet" else ".jsonl")
    target = tmp_path / f"scored{suffix}"
    argv = ["bulk", "--input", str(source), "--output", str(target), "--base-url", emulator.url]
    emulator.fault("status=500,count=2,after=3")  # the 4th and 5th groups fail
    assert main([*argv, "--concurrency", "1"]) == 1
    first = list(read_rows(target))
    assert {r["query_id"] for r in first if r["error"]} == {"q003", "q004"}
    capsys.readouterr()
    emulator.state.reset()
    emulator.state.clear_faults()

    assert main([*argv, "--resume"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("bulk: 12 rows in 2 groups, 0 groups failed (0 rows), 2 requests, ")
    assert "; 6 groups (36 rows) already written" in out
    sent = [r.json["query"]["text"] for r in emulator.requests]
    assert sorted(sent) == sorted({r["query"] for r in rows if r["query_id"] in ("q003", "q004")})
    final = list(read_rows(target))
    assert _pairs(final) == _pairs(rows)  # no row lost, none twice
    assert all(r["error"] in (None, "") for r in final)
    kept = {(r["query_id"], r["passage_id"]): r["score"] for r in first if not r["error"]}
    assert all(
        kept[k] == r["score"] for r in final if (k := (r["query_id"], r["passage_id"])) in kept
    )

    assert main([*argv, "--resume"]) == 0  # nothing left: nothing sent
    assert capsys.readouterr().out.startswith("bulk: 0 rows in 0 groups")
    assert len(emulator.requests) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_stops_sending_at_once_and_leaves_a_resumable_output(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = table(30, 5)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / "scored.jsonl"
    emulator.fault("latency=250")
    argv = [
        sys.executable, "-m", "reranker_nvidia", "bulk", "--input", str(source),
        "--output", str(target), "--base-url", emulator.url, "--concurrency", "1",
    ]  # fmt: skip
    env = {**os.environ, "NVIDIA_APIKEY": "k", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while len(emulator.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(emulator.requests) >= 4, "the command sent too little"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    sent = len(emulator.requests)
    time.sleep(0.6)  # a request sent after the interrupt would have arrived by now
    assert len(emulator.requests) == sent
    assert child.returncode == 130
    assert out == b""
    lines = err.decode().splitlines()
    assert lines[-1] == "error: interrupted"
    assert lines[-2].startswith("bulk: ") and lines[-2].endswith(
        f"; interrupted; {target} is resumable (--resume)"
    )
    assert not target.with_name(target.name + ".partial").exists()
    written = list(read_rows(target))
    groups = Counter(r["query_id"] for r in written)
    assert 3 <= len(groups) < 30
    assert set(groups.values()) == {5}  # whole groups only
    assert all(isinstance(r["score"], float) for r in written)

    emulator.state.reset()
    emulator.state.clear_faults()
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    resume = ["bulk", "--input", str(source), "--output", str(target), "--resume"]
    assert main([*resume, "--base-url", emulator.url]) == 0
    assert len(emulator.requests) == 30 - len(groups)
    assert _pairs(list(read_rows(target))) == _pairs(rows)
