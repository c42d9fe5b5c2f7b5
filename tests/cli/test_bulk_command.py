"""``reranker-nvidia bulk`` refuses what would lose the table, and says what is wrong in one line.

An output that is the input, a file that is not of its format, an Excel CSV: each is one
``error:`` line naming the file and the user's line, before anything is sent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reranker_nvidia.cli.main import main
from tests.support.httptest import TestServer


def _rows(queries: int = 3, passages: int = 2) -> list[dict[str, object]]:
    return [
        {"query_id": f"q{q}", "query": f"library day {q}", "passage_id": p, "passage": f"day {p}"}
        for q in range(queries)
        for p in range(passages)
    ]


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")


@pytest.fixture
def bulk(nim: TestServer, capsys: pytest.CaptureFixture[str]) -> Any:
    """``bulk(source, target, *flags)`` → (status, stdout, stderr), on the test NIM."""

    def run(source: Path, target: Path, *more: str) -> tuple[int, str, str]:
        argv = ["bulk", "--input", str(source), "--output", str(target), "--base-url", nim.url]
        status = main([*argv, *more])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.mark.parametrize("how", ["same-path", "symlink", "hard-link", "other-spelling"])
@pytest.mark.parametrize("resume", [True, False])
def test_an_output_that_is_the_input_is_refused_before_anything_is_read(
    nim: TestServer, bulk: Any, tmp_path: Path, how: str, resume: bool
) -> None:
    source = _jsonl(tmp_path / "pairs.jsonl", _rows())
    before = source.read_bytes()
    target = {
        "same-path": source,
        "symlink": tmp_path / "link.jsonl",
        "hard-link": tmp_path / "hard.jsonl",
        "other-spelling": tmp_path / "sub" / ".." / "pairs.jsonl",
    }[how]
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        target.symlink_to(source)
    elif how == "hard-link":
        os.link(source, target)
    status, out, err = bulk(source, target, *(["--resume"] if resume else []))
    assert (status, out) == (1, "")
    through = " (through a link)" if how in ("symlink", "hard-link") else ""
    assert err == (
        f"error: {target} is {source}{through}: the output would replace the input; "
        "choose another --output\n"
    )
    assert source.read_bytes() == before
    assert nim.requests == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")) == []


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            (
                "pairs.csv",
                b"query_id,query,passage_id,passage\nq1,caf\xe9,1,a\n",
                "pairs.csv line 2: not UTF-8 text (byte 0xe9 at column 7); save the file as UTF-8",
            ),
            id="csv-latin-1",
        ),
        pytest.param(
            (
                "pairs.jsonl",
                b'{"query_id": 1, "query": "q", "passage_id": 1, "passage": "a"}\n'
                b'{"query_id": 1, "query": "q", "passage_id": 2, "passage": "\xff"}\n',
                "pairs.jsonl line 2: not UTF-8 text (byte 0xff at column 60); save the file as UTF-8",
            ),
            id="jsonl-not-utf-8",
        ),
        pytest.param(
            (
                "pairs.jsonl",
                b'{"query_id": 1, "query": "q", "passage_id": 1, "passage": "a"}\n\n{"query_id": 1,\n',
                "pairs.jsonl line 3: not JSON: Expecting property name enclosed in double quotes",
            ),
            id="jsonl-cut",
        ),
        pytest.param(
            (
                "pairs.csv",
                b"query_id,query,passage_id,passage\nq1,q,1,a,extra\n",
                "pairs.csv line 2: 5 fields, but the header has 4",
            ),
            id="csv-too-many-fields",
        ),
        pytest.param(
            (
                "pairs.parquet",
                b"PAR1 this is not a Parquet file at all",
                "pairs.parquet: not a readable Parquet file: Parquet magic bytes not found in footer."
                " Either the file is corrupted or this is not a parquet file.",
            ),
            id="parquet-corrupt",
        ),
    ],
)
def test_a_file_that_is_not_of_its_format_is_one_line(
    nim: TestServer, bulk: Any, tmp_path: Path, case: tuple[str, bytes, str]
) -> None:
    name, content, message = case
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    source = tmp_path / name
    source.write_bytes(content)
    status, out, err = bulk(source, tmp_path / "scored.jsonl")
    assert (status, out) == (1, "")
    assert err == f"error: {tmp_path / message}\n"
    assert nim.requests == []
    assert not (tmp_path / "scored.jsonl").exists()
    assert not (tmp_path / "scored.jsonl.partial").exists()


def test_an_excel_csv_with_a_byte_order_mark_is_read(bulk: Any, tmp_path: Path) -> None:
    source = tmp_path / "pairs.csv"
    text = "query_id,query,passage_id,passage\r\n" + "".join(
        f"{r['query_id']},{r['query']},{r['passage_id']},{r['passage']}\r\n" for r in _rows()
    )
    source.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    target = tmp_path / "scored.csv"
    status, out, err = bulk(source, target)
    assert (status, err) == (0, "")
    assert out.startswith("bulk: 6 rows in 3 groups, 0 groups failed (0 rows), 3 requests, ")
    assert target.read_text(encoding="utf-8").startswith("query_id,query,passage_id,passage,")


def test_a_missing_output_directory_is_one_line(nim: TestServer, bulk: Any, tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "pairs.jsonl", _rows())
    target = tmp_path / "no-such-dir" / "scored.csv"
    status, out, err = bulk(source, target)
    assert (status, out) == (1, "")
    assert err == f"error: {target}.partial: cannot write: No such file or directory\n"
    assert nim.requests == []


def test_a_partial_left_by_a_killed_run_needs_resume(bulk: Any, tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "pairs.jsonl", _rows())
    target = tmp_path / "scored.jsonl"
    left = tmp_path / "scored.jsonl.partial"
    left.write_text("")
    status, out, err = bulk(source, target)
    assert (status, out) == (1, "")
    assert err == (
        f"error: {left} is left by a run that did not finish: pass --resume to go on with it, "
        "or remove it\n"
    )


def test_the_help_says_when_a_run_stops_early_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bulk", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--stop-after-failures N" in out
    assert "--stop-after-failures: 20 by default; 0 never stops." in out
