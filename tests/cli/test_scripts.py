"""``scripts/demo`` installs once, and keeps pip's and setuptools' chatter off the terminal.

The scripts run in a copy of the checkout whose ``.venv`` is a fake: its
``python`` records what it is asked to do and prints a banner on stderr, as
pip and setuptools do for an editable install. Nothing is installed for real.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
echo "python $*" >> "$(dirname "$0")/../calls.log"
if [ "$1 $2" = "-m pip" ]; then
    echo "running egg_info (setuptools' banner)" >&2
    if [ -f "$(dirname "$0")/../pip-fails" ]; then
        echo "ERROR: could not find a version that satisfies starlette" >&2
        exit 1
    fi
fi
"""

FAKE_COMMAND = """#!/bin/sh
echo "reranker-nvidia $*"
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    for name in ("demo", "install"):
        shutil.copy2(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    _executable(bin_dir / "python", FAKE_PYTHON)
    _executable(bin_dir / "reranker-nvidia", FAKE_COMMAND)
    return tmp_path


def demo(checkout: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "demo"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )


def pip_runs(checkout: Path) -> int:
    log = checkout / ".venv" / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    return sum(" -m pip install " in f" {call} " and "-e" in call.split() for call in calls)


@pytest.mark.skipif(sys.platform == "win32", reason="the scripts are bash")
def test_the_demo_installs_once_and_keeps_stderr_quiet(checkout: Path) -> None:
    first = demo(checkout, "--query", "whale")
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == "reranker-nvidia demo --query whale\n"
    assert pip_runs(checkout) == 1
    second = demo(checkout)
    assert (second.returncode, second.stderr, second.stdout) == (0, "", "reranker-nvidia demo\n")
    assert pip_runs(checkout) == 1  # not again
    (checkout / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "2"\n')
    assert demo(checkout).returncode == 0
    assert pip_runs(checkout) == 2  # the project changed: install again, once


@pytest.mark.skipif(sys.platform == "win32", reason="the scripts are bash")
def test_a_failed_install_shows_pips_output_and_stops(checkout: Path) -> None:
    (checkout / ".venv" / "pip-fails").touch()
    done = demo(checkout)
    assert done.returncode != 0
    assert done.stdout == ""
    assert "could not find a version that satisfies starlette" in done.stderr
    assert pip_runs(checkout) == 0
    (checkout / ".venv" / "pip-fails").unlink()
    again = demo(checkout)
    assert (again.returncode, again.stdout) == (0, "reranker-nvidia demo\n")
    assert pip_runs(checkout) == 1  # the failed install left nothing that counts as done
