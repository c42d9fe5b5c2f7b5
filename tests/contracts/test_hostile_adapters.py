"""The runner holds against a module author's first, buggy adapter.

A stray line never makes a persistent case pass on another case's answer; a
hanging adapter and the children it leaves behind are killed with their whole
process group at the timeout, without holding the runner; and what the runner
reads from an adapter is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reranker_contracts.implementations import Persistent, Subprocess
from reranker_contracts.runner import CaseResult, run_suite
from reranker_contracts.suite import Case, load_cases

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "contracts"
CASSETTES = ROOT / "cassettes"


def settings_cases() -> list[Case]:
    return [c for c in load_cases(SUITE) if c.kind == "settings"]


def digest(input_: object) -> str:
    return hashlib.sha256(json.dumps(input_, sort_keys=True).encode()).hexdigest()[:16]


def write(tmp_path: Path, name: str, source: str) -> str:
    path = tmp_path / name
    path.write_text(source)
    return f"{sys.executable} {path}"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def pids(tmp_path: Path) -> Iterator[Path]:
    """A file where adapters write the pids of the children they leave behind."""
    path = tmp_path / "pids"
    path.write_text("")
    yield path
    for pid in [int(p) for p in path.read_text().split()]:
        if alive(pid):  # never leave a test's sleeper behind, whatever the runner did
            os.kill(pid, 9)


def written_pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()]


def still_running(pids: list[int]) -> list[int]:
    """The pids still running a moment after the runner is done (SIGKILL takes a moment)."""
    deadline = time.monotonic() + 2.0
    while (running := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return running


# A persistent adapter that answers every case right, with its id and a fingerprint of the
# input it answers, but writes one line that answers nothing before the third case's answer
# (once: a fresh adapter, started after it, writes none).
STRAY = """
import hashlib, json, os, sys
from reranker_nvidia.contract_adapter.adapter import execute

def digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]

for number, line in enumerate(sys.stdin, 1):
    case = json.loads(line)
    outcome = execute(case["kind"], case["input"], case["env"])
    if number == 3 and not os.path.exists(os.environ["STRAYED"]):
        open(os.environ["STRAYED"], "w").close()
        print(json.dumps(outcome), flush=True)  # a stray copy, without the id
    print(json.dumps({"id": case.get("id"), "answers": digest(case["input"]), **outcome}),
          flush=True)
"""


def test_a_stray_line_never_lets_a_case_pass_on_another_case_s_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRAYED", str(tmp_path / "strayed"))
    cases = settings_cases()
    assert len(cases) >= 10
    with Persistent(write(tmp_path, "stray.py", STRAY), 30) as persistent:
        results = run_suite(cases, persistent, CASSETTES, jobs=1)
    for result in results:
        if result.status == "passed":
            assert result.outcome is not None
            assert result.outcome["answers"] == digest(result.case.input), result.case.id
    failed = [r for r in results if r.status == "failed"]
    assert [r.case.id for r in failed] == [cases[2].id]
    assert "carries no id, not this case's" in failed[0].problems[0]
    # The adapter, out of step, was replaced: every later case passed on its own answer.
    assert all(r.status == "passed" for r in results[3:])


def test_an_answer_with_another_case_s_id_fails_its_case(tmp_path: Path) -> None:
    wrong = (
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    case = json.loads(line)\n"
        "    print(json.dumps({'id': 'case-0', 'settings': {'model': 'm', 'baseURL': 'b'}}),"
        " flush=True)\n"
    )
    with Persistent(write(tmp_path, "wrong.py", wrong), 30) as persistent:
        results = run_suite(settings_cases()[:3], persistent, CASSETTES, jobs=1)
    assert [r.status for r in results] == ["failed"] * 3
    assert 'carries the id "case-0", not this case\'s' in results[0].problems[0]


# A one-shot adapter that starts a child holding its pipes, notes the child's pid, and hangs.
HANGS = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(os.environ["PID_FILE"], "a") as pids:
    pids.write(f"{child.pid} {os.getpid()}\\n")
time.sleep(300)
"""


def test_a_hanging_adapter_and_its_children_are_killed_at_the_timeout(
    tmp_path: Path, pids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PID_FILE", str(pids))
    cases = settings_cases()[:3]
    started = time.monotonic()
    results = run_suite(cases, Subprocess(write(tmp_path, "hangs.py", HANGS), 1.0), CASSETTES)
    took = time.monotonic() - started
    assert [r.status for r in results] == ["failed"] * 3
    assert all(r.problems == ["the implementation ran longer than 1 s"] for r in results)
    assert took < 3 * 1.0 + 4.0, took  # each case ends at its timeout, children or not
    left = written_pids(pids)
    assert len(left) == 6
    assert still_running(left) == []


LEAVES = """
import json, os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open(os.environ["PID_FILE"], "a") as pids:
    pids.write(f"{child.pid}\\n")
print(json.dumps({"settings": {"model": "m", "baseURL": "b"}}))
"""


def test_an_adapter_that_exits_leaves_nothing_running(
    tmp_path: Path, pids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PID_FILE", str(pids))
    results = run_suite(
        settings_cases()[:2], Subprocess(write(tmp_path, "leaves.py", LEAVES), 10), CASSETTES
    )
    assert all(r.outcome == {"settings": {"model": "m", "baseURL": "b"}} for r in results)
    left = written_pids(pids)
    assert len(left) == 2
    assert still_running(left) == []


PERSISTENT_HANGS = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(os.environ["PID_FILE"], "a") as pids:
    pids.write(f"{child.pid} {os.getpid()}\\n")
for line in sys.stdin:
    time.sleep(300)
"""


def test_killed_persistent_adapters_do_not_hold_the_runner(
    tmp_path: Path, pids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PID_FILE", str(pids))
    cases = settings_cases()[:6]
    started = time.monotonic()
    with Persistent(write(tmp_path, "hangs.py", PERSISTENT_HANGS), 0.5) as persistent:
        # Its start-up is over before the first case: the first answer is not awaited alone.
        persistent._answered = True
        results = run_suite(cases, persistent, CASSETTES, jobs=1)
    took = time.monotonic() - started
    assert all(r.problems == ["the implementation ran longer than 0.5 s"] for r in results)
    assert took < 6 * 0.5 + 5.0, took  # not 10 s per killed adapter
    left = written_pids(pids)
    assert len(left) == 12
    assert still_running(left) == []


def peak_growth_mib(action: Callable[[], object]) -> float:
    """The most memory Python objects took at once while ``action`` ran, in MiB."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / (1024 * 1024)
    finally:
        tracemalloc.stop()


FLOOD = """
import sys
chunk = b"x" * (1 << 20)
for _ in range(400):
    sys.{stream}.buffer.write(chunk)
sys.{stream}.buffer.flush()
print('{{"settings": {{"model": "m", "baseURL": "b"}}}}')
"""


def test_an_adapter_that_floods_stdout_fails_and_the_runner_reads_a_bounded_amount(
    tmp_path: Path,
) -> None:
    impl = Subprocess(write(tmp_path, "flood.py", FLOOD.format(stream="stdout")), 30)
    impl.output_limit = 1 << 20
    results: list[CaseResult] = []
    growth = peak_growth_mib(
        lambda: results.extend(run_suite(settings_cases()[:1], impl, CASSETTES))
    )
    (result,) = results
    assert result.problems == [
        "the implementation wrote more than 1 MiB on stdout; the runner reads no more than that"
    ]
    assert growth < 100, growth


def test_a_flood_on_stderr_is_kept_only_at_its_tail(tmp_path: Path) -> None:
    impl = Subprocess(write(tmp_path, "flood.py", FLOOD.format(stream="stderr")), 30)
    results: list[CaseResult] = []
    growth = peak_growth_mib(
        lambda: results.extend(run_suite(settings_cases()[:1], impl, CASSETTES))
    )
    (result,) = results
    assert result.outcome == {"settings": {"model": "m", "baseURL": "b"}}
    assert growth < 100, growth


LONG_LINE = """
import sys
for line in sys.stdin:
    chunk = b"x" * (1 << 20)
    for _ in range(400):
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
"""


def test_a_persistent_adapter_s_endless_line_is_cut_off(tmp_path: Path) -> None:
    results: list[CaseResult] = []
    with Persistent(write(tmp_path, "long.py", LONG_LINE), 30) as persistent:
        persistent.output_limit = 1 << 20
        persistent._answered = True
        growth = peak_growth_mib(
            lambda: results.extend(run_suite(settings_cases()[:2], persistent, CASSETTES, jobs=1))
        )
    assert [r.problems for r in results] == [
        ["the adapter wrote a line longer than 1 MiB, or lines no case asked for; it was stopped"]
    ] * 2
    assert growth < 100, growth


def test_a_persistent_adapter_that_reads_nothing_times_out(tmp_path: Path) -> None:
    # A case longer than the pipe's buffer: writing it waits on the adapter, never the runner.
    deaf = write(tmp_path, "deaf.py", "import time\ntime.sleep(300)\n")
    outcomes: list[dict[str, object]] = []
    with Persistent(deaf, 1.0) as persistent:
        persistent._answered = True
        runner = threading.Thread(
            target=lambda: outcomes.append(
                persistent.run("settings", {"class": {"description": "x" * 1_000_000}}, {})
            ),
            daemon=True,
        )
        runner.start()
        runner.join(timeout=10)
        assert not runner.is_alive(), "the runner waits on an adapter that reads nothing"
    assert outcomes == [{"_runner_problem": "the implementation ran longer than 1 s"}]
