"""Running the code blocks of the README and docs/: two fences, two ways to run.

- A ```` ```python ```` block is a complete script. It runs in a fresh interpreter, from an
  empty temporary directory, with no ``NVIDIA_*`` or ``MODULES_*`` variable, and must exit 0
  with nothing on stderr. A ``print(...)  # → TEXT`` comment says what that print shows: the
  TEXT lines must appear in the output, in that order.
- A ```` ```py ```` block is a pytest test module, as a downstream project would write it: it
  runs in a separate test project (pytester, in a subprocess, so the plugin loads from its
  entry point), and every test in it must pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```(python|py)\n(.*?)^```", re.M | re.S)
_SHOWN = re.compile(r"print\(.*\)  # → (.*)$", re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block: its file, its first line's number, its fence and its code."""

    path: Path
    line: int
    fence: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path, fence: str | None = None) -> list[Block]:
    """The ``python`` and ``py`` blocks of a Markdown file, in order (only ``fence``'s if given)."""
    text = path.read_text(encoding="utf-8")
    found = [
        Block(path, text.count("\n", 0, match.start()) + 2, match.group(1), match.group(2))
        for match in _FENCE.finditer(text)
    ]
    return [b for b in found if fence is None or b.fence == fence]


def offline_environment() -> dict[str, str]:
    """The caller's environment without a key, a client setting or pytest options."""
    drop = ("NVIDIA_", "MODULES_", "PYTEST_ADDOPTS")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def run_script(block: Block, workdir: Path) -> str:
    """Run a ``python`` block (module docstring); return what it printed."""
    script = workdir / "example.py"
    script.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=workdir,
        env=offline_environment(),
    )
    assert (done.returncode, done.stderr) == (0, ""), f"{block.id}\n{block.code}\n{done.stderr}"
    shown = done.stdout.splitlines()
    position = 0
    for want in _SHOWN.findall(block.code):
        while position < len(shown) and shown[position] != want:
            position += 1
        assert position < len(shown), f"{block.id}: no line {want!r} in order in\n{done.stdout}"
        position += 1
    return done.stdout


def run_test_module(
    block: Block, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run a ``py`` block as a test project's only module (module docstring)."""
    for name in list(os.environ):
        if name.startswith(("NVIDIA_", "MODULES_")):
            monkeypatch.delenv(name)
    pytester.makepyfile(test_example=block.code)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--strict-markers", "-W", "error"
    )
    outcomes = result.parseoutcomes()
    tests = len(re.findall(r"^\s*(?:async )?def test_", block.code, re.M))
    assert tests >= 1, f"{block.id}: a py block is a test module with at least one test"
    assert result.ret == 0, f"{block.id}\n{result.stdout.str()}"
    assert outcomes.get("passed", 0) >= tests, f"{block.id}\n{result.stdout.str()}"
