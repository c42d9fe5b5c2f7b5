"""benchmarks/emulator_cpu.py runs end to end and reports the emulator's CPU per passage.

Nothing here is timed: the figures belong to the benchmark, not to a test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "emulator_cpu.py"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_cpu_script_prints_one_line_per_workload() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "-n",
            "1024",
            "--repeat",
            "1",
            "--",
            "--scoring",
            "hash",
            "--no-request-log",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    match = re.fullmatch(
        r"\s*1024 passages  emulator CPU\s+([\d.]+) µs/passage \(min [\d.]+, max [\d.]+\)"
        r"  client wall [\d.]+ s  flags: --scoring hash --no-request-log",
        line,
    )
    assert match is not None, line


def test_the_synthetic_passages_are_deterministic_and_about_200_characters() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import emulator_cpu
    finally:
        sys.path.remove(str(SCRIPT.parent))
    first, again = emulator_cpu.passages(600), emulator_cpu.passages(600)
    assert first == again
    assert len(set(first)) == 600
    assert all(190 <= len(text) <= 215 for text in first)
    bodies = emulator_cpu.bodies_for(first)
    assert [len(b["passages"]) for b in bodies] == [512, 88]
