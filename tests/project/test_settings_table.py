"""The README's settings table is the settings table of extensions/settings.py, row for row.

Every surface of a setting derives from that one table; the README cannot, so
this test holds it to the table, and the CLI's flags and the clients' keywords
are checked against it here too.
"""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

import pytest

from reranker_nvidia import AsyncClient, Client
from reranker_nvidia.bulk import ClientConfig
from reranker_nvidia.cli import bulk as bulk_cli
from reranker_nvidia.cli import rerank as rerank_cli
from reranker_nvidia.extensions.settings import SETTINGS, Setting

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_rows(text: str) -> list[str]:
    """The rows of the table headed ``| keyword argument | class setting | flag | …``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| keyword argument |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def table_row(row: Setting) -> str:
    flag = row.flag if row.cli_type in ("text", "flag") else f"{row.flag} {row.metavar}"
    return f"| `{row.name}` | `{row.key}` | `{flag}` | {row.values} |"


def test_the_readme_table_is_the_settings_table() -> None:
    assert readme_rows(README.read_text(encoding="utf-8")) == [table_row(r) for r in SETTINGS]


def test_the_comparison_sees_a_changed_row() -> None:
    text = README.read_text(encoding="utf-8").replace("`--rpm N`", "`--rate N`")
    assert readme_rows(text) != [table_row(r) for r in SETTINGS]


@pytest.mark.parametrize(
    "configure", [rerank_cli.configure, bulk_cli.configure], ids=["rerank", "bulk"]
)
def test_every_row_is_a_flag(configure: object) -> None:
    parser = argparse.ArgumentParser()
    configure(parser)  # type: ignore[operator]
    flags = {option for action in parser._actions for option in action.option_strings}
    assert {row.flag for row in SETTINGS} <= flags


@pytest.mark.parametrize("row", SETTINGS, ids=[r.name for r in SETTINGS])
def test_every_row_is_a_client_keyword_and_a_client_config_field(row: Setting) -> None:
    default = row.default if row.default is not None or not row.client_field else None
    with Client("k", **{row.name: default}) as client:
        assert client is not None
    assert AsyncClient("k", **{row.name: default}) is not None
    assert getattr(ClientConfig(), row.name) == row.default


def test_a_keyword_no_row_declares_is_refused() -> None:
    with pytest.raises(TypeError, match="'retry'"):
        Client("k", retry=1)
    with pytest.raises(TypeError, match="'retry'"):
        ClientConfig(retry=1)


def test_each_row_names_its_divergence() -> None:
    divergences = (README.parent / "docs" / "divergences.md").read_text(encoding="utf-8")
    for row in SETTINGS:
        assert re.search(rf"^### {re.escape(row.divergence)} ", divergences, re.M), row.name
    assert inspect.signature(Client).parameters.keys() >= {"max_documents", "max_concurrency"}
