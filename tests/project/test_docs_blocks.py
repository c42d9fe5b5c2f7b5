"""Every code block of docs/*.md runs as written, offline (tests/support/doc_blocks.py).

The ``python`` blocks of docs/emulator.md are run by tests/emulator/test_emulator_server.py,
which also checks what they print; they are not run twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.doc_blocks import ROOT, Block, blocks, run_script, run_test_module

pytest_plugins = ["pytester"]

DOCS = sorted((ROOT / "docs").glob("*.md"))
RUN_ELSEWHERE = {("emulator.md", "python")}
FOUND = [block for page in DOCS for block in blocks(page)]
SCRIPTS = [b for b in FOUND if b.fence == "python" and (b.path.name, b.fence) not in RUN_ELSEWHERE]
TEST_MODULES = [b for b in FOUND if b.fence == "py" and (b.path.name, b.fence) not in RUN_ELSEWHERE]


def test_the_python_page_has_scripts_and_test_modules() -> None:
    page = ROOT / "docs" / "python.md"
    assert [b for b in SCRIPTS if b.path == page]
    assert [b for b in TEST_MODULES if b.path == page]


@pytest.mark.parametrize("block", SCRIPTS, ids=lambda b: b.id)
def test_every_python_block_runs_offline(block: Block, tmp_path: Path) -> None:
    run_script(block, tmp_path)


@pytest.mark.parametrize("block", TEST_MODULES, ids=lambda b: b.id)
def test_every_py_block_passes_as_a_test_module(
    block: Block, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_test_module(block, pytester, monkeypatch)
