"""``benchmarks/bench.py --quick`` runs in seconds and writes a result of the documented shape.

A smoke run only (small workloads, no peers): no figure is judged here, only
that every client ranked every passage, in the requests it should have sent,
and that the result, its table and its targets are written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"
SUMMARY_KEYS = {
    "wall_median",
    "wall_min",
    "wall_max",
    "cpu_median",
    "cpu_per_passage_us",
    "rss_peak_above_base_bytes",
    "requests",
    "connections",
    "server_cpu_median",
    "server_bound",
}


def test_quick_bench_writes_its_result(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (result_path,) = tmp_path.glob("*-quick.json")
    result = json.loads(result_path.read_text())
    assert result["machine"]["cpus"] >= 1
    assert result["settings"]["quick"] is True
    clients = set(result["settings"]["clients"])
    assert {"port-sync-default", "port-sync-all", "port-async-default", "port-async-all"} <= clients
    assert "cli" in clients
    assert {"floor-httpx", "floor-socket"} <= clients
    for cell in result["cells"]:
        assert set(cell["summary"]) >= SUMMARY_KEYS
        assert len(cell["reps"]) == result["settings"]["reps"]
        chunks = -(-cell["passages"] // 512)
        for rep in cell["reps"]:
            assert rep["scores"] == cell["passages"]
            assert rep["requests"] == chunks, (cell["client"], rep)
            assert rep["wall"] > 0 and rep["cpu"] > 0
    sizes = {cell["passages"] for cell in result["cells"]}
    assert sizes == {*result["settings"]["workloads"], result["settings"]["big_workload"]}
    machine = result["machine"]
    assert len(machine["load_average_start"]) == 3 and len(machine["load_average_end"]) == 3
    assert machine["command"][-1].endswith("/tmp") or "--quick" in machine["command"]
    # Every one of the nine targets has a row: measured, or "not measured" with why.
    numbers = {row["number"] for row in result["targets"]}
    assert numbers == {1, 3, 4, 5, 6, 7, 8, 9}  # 2 is the floor itself, a client of every run
    for row in result["targets"]:
        if row["value"] is None:
            assert row["met"] is None and row["why"]
        else:
            assert row["met"] in (True, False)
    measured = {row["number"] for row in result["targets"] if row["value"] is not None}
    assert {6, 7, 8} <= measured  # start-up, bulk, the emulator (the stand-in: under 5 ticks)
    assert result["bulk"]["identical_output"] is True
    assert {run["kind"] for run in result["bulk"]["runs"]} == {"port", "floor"}
    stand_in = [c for c in result["cells"] if c["client"] == "floor-socket"]
    for cell in stand_in:  # the server counted every passage it scored
        assert all(rep["server_passages"] == cell["passages"] for rep in cell["reps"])
    table = result_path.with_suffix(".md").read_text()
    assert table.startswith("Command: ")
    assert "load average" in table
    assert "| # | target | measured | limit | met |" in table
    assert "| passages | client |" in table
