"""Every code block of the README runs as written, offline (tests/support/doc_blocks.py).

The first ``python`` block, "From Python", is also checked for what its comments say it prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.doc_blocks import ROOT, Block, blocks, run_script, run_test_module

pytest_plugins = ["pytester"]

README = ROOT / "README.md"
SCRIPTS = blocks(README, "python")
TEST_MODULES = blocks(README, "py")


def test_the_readme_has_a_python_example_and_a_pytest_example() -> None:
    assert SCRIPTS, "the README shows Python"
    assert TEST_MODULES, "the README shows a test that uses the pytest plugin"


def test_the_readme_python_example_runs_offline(tmp_path: Path) -> None:
    # No key and no proxy from the caller's environment: it must need neither.
    scores, titles = run_script(SCRIPTS[0], tmp_path).splitlines()
    assert len(json.loads(scores)) == 2
    assert titles == "['Dune', 'Emma']"


@pytest.mark.parametrize("block", SCRIPTS[1:], ids=lambda b: b.id)
def test_every_other_python_block_runs_offline(block: Block, tmp_path: Path) -> None:
    run_script(block, tmp_path)


@pytest.mark.parametrize("block", TEST_MODULES, ids=lambda b: b.id)
def test_every_py_block_passes_as_a_test_module(
    block: Block, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_test_module(block, pytester, monkeypatch)
