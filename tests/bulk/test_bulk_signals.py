"""Stopping never costs finished work: real signals to a real ``reranker-nvidia bulk``, full disks.

Each test runs the command in a child process against the emulator on loopback, and sends it a
real signal at a point it controls: after N requests reached a slow emulator (its latency
fault), or from inside the child, halfway through writing a group (a writer wrapped by
``_DRIVER``). The full and read-only disks are real: a small tmpfs mounted in a mount namespace
of the child's own (``unshare -m``, as root); where the machine does not allow it, those tests
are skipped and say so (``test_a_full_disk_simulated`` covers the same ground in-process).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reranker_nvidia.bulk import _formats, read_rows
from reranker_nvidia.cli.main import main
from tests.bulk.conftest import Emulator, table

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and mounts")

# The command line, with the writer wrapped: BULK_CUT=N sends the process SIGINT halfway through
# writing its N-th group; BULK_SLOW_CLOSE=S makes finishing the output take S more seconds (a
# busy machine, a slow disk).
_DRIVER = textwrap.dedent(
    """
    import os, signal, sys, time
    import reranker_nvidia.cli.bulk as command

    opened = command.open_writer
    cut = int(os.environ.get("BULK_CUT", "0"))
    slow = float(os.environ.get("BULK_SLOW_CLOSE", "0"))

    class Wrapped:
        def __init__(self, writer):
            self.writer, self.groups = writer, 0

        def write(self, rows):
            self.groups += 1
            if self.groups != cut:
                return self.writer.write(rows)
            half = len(rows) // 2
            self.writer.write(rows[:half])
            os.kill(os.getpid(), signal.SIGINT)
            self.writer.write(rows[half:])

        def close(self, *args):
            time.sleep(slow)
            return self.writer.close(*args)

        def keep(self, *args):
            time.sleep(slow)
            return self.writer.keep(*args)

        def __getattr__(self, name):
            return getattr(self.writer, name)

    command.open_writer = lambda *a, **k: Wrapped(opened(*a, **k))
    from reranker_nvidia.cli.main import run

    sys.argv = ["reranker-nvidia", *sys.argv[1:]]
    run()
    """
)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _env(**more: str) -> dict[str, str]:
    return {**os.environ, "NVIDIA_APIKEY": "k", "PYTHONPATH": str(ROOT), **more}


def _bulk_argv(emulator: Emulator, source: Path, target: Path, *more: str) -> list[str]:
    return [
        "bulk", "--input", str(source), "--output", str(target),
        "--base-url", emulator.url, "--concurrency", "1", *more,
    ]  # fmt: skip


def _start(argv: list[str], **env: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", _DRIVER, *argv]
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(**env),
    )


def _finish(child: subprocess.Popen[bytes], timeout: float = 30) -> tuple[str, str]:
    try:
        out, err = child.communicate(timeout=timeout)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return out.decode(), err.decode()


def _wait_for_requests(emulator: Emulator, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(emulator.requests) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(emulator.requests) >= count, "the command sent too little"


def _read(path: Path, fmt: str | None = None) -> list[dict[str, Any]]:
    if (fmt or path.suffix[1:]) == "csv":
        with path.open(newline="", encoding="utf-8") as stream:
            return list(csv.DictReader(stream))
    return list(read_rows(path, fmt))


def _whole_groups(rows: list[dict[str, Any]], per_group: int) -> Counter[str]:
    groups = Counter(str(r["query_id"]) for r in rows)
    assert set(groups.values()) <= {per_group}, f"a cut group: {groups}"
    assert all(r["score"] not in (None, "") for r in rows), "a row without its score"
    return groups


def _resume_completes(emulator: Emulator, source: Path, target: Path, rows: list[Any]) -> None:
    """``--resume`` then gives every input row once, in input order, scored."""
    emulator.state.reset()
    emulator.state.clear_faults()
    status = main(["bulk", "--input", str(source), "--output", str(target), "--resume",
                   "--base-url", emulator.url])  # fmt: skip
    assert status == 0
    final = _read(target)
    assert [(str(r["query_id"]), str(r["passage_id"])) for r in final] == [
        (str(r["query_id"]), str(r["passage_id"])) for r in rows
    ]
    assert all(r["score"] not in (None, "") and r["error"] in (None, "") for r in final)


# --------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_ctrl_c_while_a_group_is_written_keeps_the_group_whole(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(12, 6)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / f"scored{suffix}"
    child = _start(_bulk_argv(emulator, source, target), BULK_CUT="3")
    out, err = _finish(child)
    assert (child.returncode, out) == (130, ""), err
    assert err.splitlines()[-2].endswith(f"; interrupted; {target} is resumable (--resume)")
    groups = _whole_groups(_read(target), 6)
    assert len(groups) >= 3  # the group being written when the signal came is kept, whole
    assert not target.with_name(target.name + ".partial").exists()
    _resume_completes(emulator, source, target, rows)
    assert len(emulator.requests) == 12 - len(groups)


def test_a_slow_close_after_ctrl_c_still_saves_the_finished_groups(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A busy machine: finishing the output takes longer than the 0.5 s Ctrl-C grace of rerank.
    pytest.importorskip("pyarrow")
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(30, 5)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / "scored.parquet"
    emulator.fault("latency=200")
    child = _start(_bulk_argv(emulator, source, target), BULK_SLOW_CLOSE="1.5")
    try:
        _wait_for_requests(emulator, 4)
        child.send_signal(signal.SIGINT)
    finally:
        out, err = _finish(child)
    assert (child.returncode, out) == (130, ""), err
    lines = err.splitlines()
    assert lines[-1] == "error: interrupted"
    assert lines[-2].endswith(f"; interrupted; {target} is resumable (--resume)")
    groups = _whole_groups(_read(target), 5)
    assert len(groups) >= 3
    _resume_completes(emulator, source, target, rows)


def test_a_third_signal_while_the_output_is_saved_ends_at_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    # The way out of a save that hangs (a dead network disk): the second signal is noted, the
    # third ends the process at once, and what was written stays in NAME.partial.
    rows = table(30, 5)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / "scored.jsonl"
    emulator.fault("latency=200")
    child = _start(_bulk_argv(emulator, source, target), BULK_SLOW_CLOSE="60")
    try:
        _wait_for_requests(emulator, 4)
        child.send_signal(signal.SIGINT)
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert child.poll() is None, "the second signal ended the save"
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        out, err = _finish(child)
    assert (child.returncode, out) == (130, "")
    assert err.endswith("\nerror: interrupted (the output was not saved)\n")
    assert elapsed < 10
    assert not target.exists()
    assert _whole_groups(_read(target.with_name("scored.jsonl.partial"), "jsonl"), 5)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_sigterm_is_treated_as_ctrl_c(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(30, 5)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / f"scored{suffix}"
    emulator.fault("latency=250")
    child = _start(_bulk_argv(emulator, source, target))
    try:
        _wait_for_requests(emulator, 4)
        child.send_signal(signal.SIGTERM)
    finally:
        out, err = _finish(child)
    sent = len(emulator.requests)
    time.sleep(0.6)  # a request sent after the signal would have arrived by now
    assert len(emulator.requests) == sent
    assert (child.returncode, out) == (130, ""), err
    lines = err.splitlines()
    assert lines[-1] == "error: interrupted"
    assert lines[-2].endswith(f"; interrupted (SIGTERM); {target} is resumable (--resume)")
    groups = _whole_groups(_read(target), 5)
    assert 3 <= len(groups) < 30
    _resume_completes(emulator, source, target, rows)
    assert len(emulator.requests) == 30 - len(groups)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_picks_up_the_partial_file_a_killed_run_left(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(30, 5)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / f"scored{suffix}"
    emulator.fault("latency=150")
    child = _start(_bulk_argv(emulator, source, target))
    try:
        _wait_for_requests(emulator, 8)
        child.send_signal(signal.SIGKILL)  # no chance to close: only NAME.partial is left
    finally:
        _finish(child)
    partial = target.with_name(target.name + ".partial")
    assert not target.exists() and partial.exists()
    copy = tmp_path / f"copy{suffix}"
    shutil.copy(partial, copy)
    held = _whole_groups(_read(copy), 5)
    assert len(held) >= 5, "the killed run's groups are on disk"
    _resume_completes(emulator, source, target, rows)
    assert len(emulator.requests) == 30 - len(held)
    assert not partial.exists()
    assert not list(tmp_path.glob(f"scored{suffix}.partial*"))


def test_an_interrupted_resume_keeps_the_earlier_output_as_it_was(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(30, 4)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / "scored.jsonl"
    emulator.fault("status=500,after=10")  # q010 on fail: 20 queries to send again
    assert main([*_bulk_argv(emulator, source, target), "--stop-after-failures", "0"]) == 1
    earlier = target.read_bytes()
    emulator.state.clear_faults()
    emulator.state.reset()
    emulator.fault("latency=250")
    child = _start([*_bulk_argv(emulator, source, target), "--resume"])
    try:
        _wait_for_requests(emulator, 4)
        child.send_signal(signal.SIGINT)
    finally:
        out, err = _finish(child)
    assert (child.returncode, out) == (130, ""), err
    leftover = target.with_name("scored.jsonl.partial.1")
    assert err.splitlines()[-2].endswith(
        f"; {target} is resumable (--resume): this run's queries wait in {leftover}"
    )
    assert target.read_bytes() == earlier
    done_now = _whole_groups(_read(leftover, "jsonl"), 4)
    assert len(done_now) >= 12  # the 10 carried over, and those scored since
    _resume_completes(emulator, source, target, rows)
    assert len(emulator.requests) == 30 - len(done_now)
    assert not leftover.exists()


# --------------------------------------------------------------------------
# Full and read-only disks
# --------------------------------------------------------------------------


def _can_mount() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _can_mount(),
    reason="no mount namespace here (needs root and unshare -m): test_a_full_disk_simulated "
    "covers it with a writer that raises ENOSPC",
)

# In its own mount namespace: a small tmpfs on DISK, made nearly full by a filler; the bulk
# command writes its output there; then everything on DISK is copied out to OUT (the tmpfs
# goes with the namespace), the filler is removed, and --resume runs with room to spare.
_DISK_SCRIPT = """
set -u
mount -t tmpfs -o size={size} tmpfs "$DISK"
head -c {filler} /dev/zero > "$DISK/filler"
{python} -m reranker_nvidia bulk --input "$SOURCE" --output "$DISK/{name}" \\
    --base-url "$URL" --concurrency 1 >"$OUT/first.out" 2>"$OUT/first.err"
echo $? > "$OUT/first.status"
for f in "$DISK"/{name}*; do [ -e "$f" ] && cp "$f" "$OUT/first-$(basename "$f")"; done
rm "$DISK/filler"
{python} -m reranker_nvidia bulk --input "$SOURCE" --output "$DISK/{name}" --resume \\
    --base-url "$URL" >"$OUT/second.out" 2>"$OUT/second.err"
echo $? > "$OUT/second.status"
for f in "$DISK"/{name}*; do [ -e "$f" ] && cp "$f" "$OUT/second-$(basename "$f")"; done
true
"""


def _on_a_full_disk(
    emulator: Emulator, tmp_path: Path, name: str, rows: list[dict[str, Any]], filler: int
) -> Path:
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    script = _DISK_SCRIPT.format(size="256k", filler=filler, name=name, python=sys.executable)
    env = _env(DISK=str(disk), OUT=str(out), SOURCE=str(source), URL=emulator.url)
    subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, check=True, timeout=120)
    return out


@needs_mounts
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_full_disk_keeps_whole_groups_and_resume_completes(
    emulator: Emulator, tmp_path: Path, suffix: str
) -> None:
    rows = table(40, 8)
    name = f"scored{suffix}"
    out = _on_a_full_disk(emulator, tmp_path, name, rows, filler=256 * 1024 - 24 * 1024)
    first_err = (out / "first.err").read_text()
    assert (out / "first.status").read_text().strip() == "1", first_err
    lines = first_err.splitlines()
    assert len(lines) == 2, first_err
    assert lines[0].endswith(f"; {tmp_path / 'disk' / name} is resumable (--resume)")
    assert lines[1] == (
        f"error: {tmp_path / 'disk' / name}.partial: cannot write: No space left on device"
    )
    assert "internal error" not in first_err
    kept = _whole_groups(_read(out / f"first-{name}"), 8)
    assert 3 <= len(kept) < 40
    assert (out / "second.status").read_text().strip() == "0", (out / "second.err").read_text()
    final = _read(out / f"second-{name}")
    assert [(r["query_id"], r["passage_id"]) for r in final] == [
        (r["query_id"], r["passage_id"]) for r in rows
    ]
    assert all(r["score"] not in (None, "") for r in final)


@needs_mounts
def test_a_full_disk_renames_no_parquet_file_it_cannot_finish(
    emulator: Emulator, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    rows = [{**r, "passage": r["passage"] + " " + os.urandom(300).hex()} for r in table(40, 8)]
    name = "scored.parquet"
    out = _on_a_full_disk(emulator, tmp_path, name, rows, filler=256 * 1024 - 32 * 1024)
    first_err = (out / "first.err").read_text()
    assert (out / "first.status").read_text().strip() == "1", first_err
    assert first_err.splitlines()[-1] == (
        f"error: {tmp_path / 'disk' / name}.partial: cannot write: No space left on device; "
        "a Parquet file cannot be finished after a failed write, so it holds none of this "
        "run's groups"
    )
    assert "internal error" not in first_err
    assert sorted(p.name for p in out.glob("first-*")) == []  # no torn file, no .partial
    assert (out / "second.status").read_text().strip() == "0", (out / "second.err").read_text()
    final = _read(out / f"second-{name}")
    assert len(final) == 320 and all(isinstance(r["score"], float) for r in final)


@needs_mounts
def test_a_read_only_disk_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, table(3, 2))
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (
        'mount -t tmpfs -o ro,size=64k tmpfs "$DISK" && '
        f'{sys.executable} -m reranker_nvidia bulk --input "$SOURCE" '
        '--output "$DISK/scored.csv" --base-url "$URL"'
    )
    env = _env(DISK=str(disk), SOURCE=str(source), URL=emulator.url)
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"error: {disk / 'scored.csv'}.partial: cannot write: Read-only file system\n"
    )
    assert emulator.requests == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_a_full_disk_simulated(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Where no tmpfs can be mounted: os.write says ENOSPC once 3,000 bytes are in the file.
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(20, 5)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / "scored.csv"
    real_write = os.write
    room = {"left": 3000}

    def full_write(fd: int, data: Any) -> int:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) != "scored.csv.partial":
            return real_write(fd, data)
        if room["left"] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real_write(fd, bytes(data[: room["left"]]))
        room["left"] -= written
        return written

    monkeypatch.setattr(_formats.os, "write", full_write)
    status = main(_bulk_argv(emulator, source, target))
    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines()[-1] == f"error: {target}.partial: cannot write: No space left on device"
    kept = _whole_groups(_read(target), 5)
    assert 1 <= len(kept) < 20
    monkeypatch.setattr(_formats.os, "write", real_write)
    _resume_completes(emulator, source, target, rows)
