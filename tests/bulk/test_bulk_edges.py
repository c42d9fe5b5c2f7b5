"""What the bulk path must not lose: resumes checked row by row, bad cells, late columns, order.

Each test here was written against a reproduction of a bulk run that lost rows, and failed before its fix.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from reranker_nvidia.bulk import (
    BulkInputError,
    ClientConfig,
    arerank_table,
    read_rows,
    rerank_table,
)
from reranker_nvidia.cli.main import main
from tests.bulk.conftest import Emulator, table


def _config(emulator: Emulator, **kwargs: Any) -> ClientConfig:
    return ClientConfig(api_key="k", base_url=emulator.url, **kwargs)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _pairs(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((str(r["query_id"]), str(r["passage_id"])) for r in rows)


def _order(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(r["query_id"]), str(r["passage_id"])) for r in rows]


def _sent_queries(emulator: Emulator) -> list[str]:
    return sorted(r.json["query"]["text"] for r in emulator.requests)


@pytest.fixture
def cli(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """``cli(*argv)`` → (status, stdout, stderr) of ``reranker-nvidia bulk`` on the emulator."""
    monkeypatch.setenv("NVIDIA_APIKEY", "k")

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(["bulk", *argv, "--base-url", emulator.url])
        out, err = capsys.readouterr()
        return status, out, err

    return run


# --------------------------------------------------------------------------
# --resume: a query is done only if the output holds exactly its input rows
# --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_resume_scores_again_a_query_whose_input_rows_changed(
    emulator: Emulator, tmp_path: Path, cli: Any, suffix: str
) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    before = table(5, 3)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, before)
    target = tmp_path / f"scored{suffix}"
    assert cli("--input", str(source), "--output", str(target))[0] == 0
    emulator.state.reset()

    after = [dict(r) for r in before]
    q1 = [i for i, r in enumerate(after) if r["query_id"] == "q001"]
    after.insert(q1[-1] + 1, {**after[q1[-1]], "passage_id": "p3", "passage": "added since"})
    q2 = next(r for r in after if r["query_id"] == "q002")
    q2["passage_id"] = "p9"  # another passage under the same query
    q3 = next(r for r in after if r["query_id"] == "q003")
    q3["passage"] = "edited since"
    _write_jsonl(source, after)

    status, out, err = cli("--input", str(source), "--output", str(target), "--resume")
    assert (status, err) == (0, "")
    assert "; 2 groups (6 rows) already written" in out
    changed = {"q001", "q002", "q003"}
    assert _sent_queries(emulator) == sorted(
        {r["query"] for r in after if r["query_id"] in changed}
    )
    final = list(read_rows(target))
    assert _order(final) == _order(after)  # every row of the new input, once, in order
    assert all(r["error"] in (None, "") and r["score"] not in (None, "") for r in final)


def test_resume_keeps_the_input_order_when_it_sends_the_failed_queries_again(
    emulator: Emulator, tmp_path: Path, cli: Any
) -> None:
    rows = table(8, 4)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / "scored.csv"
    argv = ["--input", str(source), "--output", str(target)]
    emulator.fault("status=500,count=2,after=3")  # the 4th and 5th queries fail
    assert cli(*argv, "--concurrency", "1")[0] == 1
    emulator.state.clear_faults()
    assert cli(*argv, "--resume")[0] == 0
    with target.open(newline="", encoding="utf-8") as stream:
        final = list(csv.DictReader(stream))
    assert _order(final) == _order(rows)
    assert all(r["error"] == "" and r["score"] != "" for r in final)


# --------------------------------------------------------------------------
# Bad cells fail their own query; the run goes on
# --------------------------------------------------------------------------


def _with_bad_cells() -> list[dict[str, Any]]:
    rows = table(4, 3)
    rows[4]["passage"] = None  # q001, its second row
    rows[9]["passage"] = 17  # q003, its first row
    return rows


def test_a_bad_cell_fails_its_own_query_and_the_run_goes_on(emulator: Emulator) -> None:
    run = rerank_table(_with_bad_cells(), config=_config(emulator))
    out = list(run)
    errors = {r["query_id"]: r["error"] for r in out}
    assert errors == {
        "q000": None,
        "q001": "row 5: 'passage' is empty and there is no image",
        "q002": None,
        "q003": "row 10: 'passage' must be text, not int",
    }
    assert all(r["score"] is None for r in out if r["error"])
    assert len(emulator.requests) == 2  # a bad query is not sent
    assert (run.summary.groups, run.summary.failed_groups) == (4, 2)


def test_the_async_run_fails_the_same_queries_with_the_same_errors(emulator: Emulator) -> None:
    sync = list(rerank_table(_with_bad_cells(), config=_config(emulator)))

    async def collect() -> list[dict[str, object]]:
        return [r async for r in arerank_table(_with_bad_cells(), config=_config(emulator))]

    assert anyio.run(collect) == sync


def test_the_cli_names_a_bad_cell_by_its_line_and_goes_on(
    emulator: Emulator, tmp_path: Path, cli: Any
) -> None:
    source = tmp_path / "pairs.jsonl"
    rows = _with_bad_cells()
    text = (
        "".join(json.dumps(r) + "\n" for r in rows[:6])
        + "\n"
        + "".join(json.dumps(r) + "\n" for r in rows[6:])
    )  # a blank line: the user's line numbers are not the row numbers
    source.write_text(text, encoding="utf-8")
    target = tmp_path / "scored.jsonl"
    status, out, err = cli("--input", str(source), "--output", str(target))
    assert status == 1
    assert out.startswith("bulk: 12 rows in 4 groups, 2 groups failed (6 rows), 2 requests, ")
    written = list(read_rows(target))
    assert {r["query_id"]: r["error"] for r in written} == {
        "q000": None,
        "q001": "line 5: 'passage' is empty and there is no image",
        "q002": None,
        "q003": "line 11: 'passage' must be text, not int",
    }
    assert err.startswith("error: 2 groups failed; ")


def test_nan_query_ids_group_alike_sync_and_async(emulator: Emulator) -> None:
    rows = [
        {"query_id": math.nan, "query": "q", "passage_id": i, "passage": f"passage {i}"}
        for i in range(1500)  # past the async reader's 1,024-row step
    ]
    sync = list(rerank_table(rows, config=_config(emulator, max_documents=512)))

    async def collect() -> list[dict[str, object]]:
        return [r async for r in arerank_table(rows, config=_config(emulator, max_documents=512))]

    assert anyio.run(collect) == sync
    assert {r["chunk"] for r in sync} == {0, 1, 2}


# --------------------------------------------------------------------------
# JSON Lines in: a column first seen late is kept
# --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_json_lines_column_first_seen_after_the_first_rows_is_kept(
    emulator: Emulator, tmp_path: Path, cli: Any, suffix: str
) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    rows = table(6, 3)
    for r in rows[12:]:
        r["source"] = "wiki"  # first seen on the 13th row
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / f"scored{suffix}"
    assert cli("--input", str(source), "--output", str(target))[0] == 0
    written = list(read_rows(target))
    assert [r.get("source") or None for r in written] == [None] * 12 + ["wiki"] * 6


def test_a_json_lines_column_of_two_types_is_refused_for_parquet_naming_both_lines(
    emulator: Emulator, tmp_path: Path, cli: Any
) -> None:
    pytest.importorskip("pyarrow")
    rows = table(3, 2)
    rows[1]["year"] = 2024
    rows[4]["year"] = "2024"
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    status, out, err = cli("--input", str(source), "--output", str(tmp_path / "s.parquet"))
    assert (status, out) == (1, "")
    assert err == (
        "error: line 5: column 'year' holds text, but an integer on line 2: a Parquet column "
        "holds one type; make it one type, or write JSON Lines\n"
    )
    assert emulator.requests == []  # refused before anything is sent
    assert not list(tmp_path.glob("s.parquet*"))


# --------------------------------------------------------------------------
# A run whose every query fails
# --------------------------------------------------------------------------


def test_an_all_fail_run_names_the_most_common_error_with_its_hint_and_counts_requests(
    emulator: Emulator, tmp_path: Path, cli: Any
) -> None:
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, table(6, 2))
    target = tmp_path / "scored.jsonl"
    status, out, err = cli(
        "--input", str(source), "--output", str(target),
        "--model", "nvidia/llama-nemotron-rerank-1b-v2", "--concurrency", "1",
    )  # fmt: skip
    assert status == 1
    assert out.startswith("bulk: 12 rows in 6 groups, 6 groups failed (12 rows), 6 requests, ")
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0] == (
        f"error: 6 groups failed; their rows in {target} carry the error (--resume sends them "
        "again); the most common, in 6 groups: connection to NVIDIA API failed with status: 404 "
        "error: Unknown model 'nvidia/llama-nemotron-rerank-1b-v2'. Available models are: "
        "['nvidia/rerank-qa-mistral-4b', 'nv-rerank-qa-mistral-4b:1']"
    )
    assert lines[1].startswith("hint: this route does not serve nvidia/llama-nemotron-rerank-1b-v2")
    assert lines[1].endswith('set endpoint "model"')


def test_failed_requests_and_retries_are_counted(emulator: Emulator) -> None:
    emulator.fault("status=503,count=3,retry-after=0")
    run = rerank_table(table(2, 2), config=_config(emulator, retries=1, max_concurrency=1))
    list(run)
    assert len(emulator.requests) == run.summary.requests == 4  # 2 × (a 503, then its retry)
    assert run.summary.failed_groups == 1


def test_a_run_stops_after_n_queries_in_a_row_fail_alike(
    emulator: Emulator, tmp_path: Path, cli: Any
) -> None:
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, table(30, 2))
    target = tmp_path / "scored.jsonl"
    emulator.fault("status=500,after=2")
    argv = ["--input", str(source), "--output", str(target), "--concurrency", "1"]
    status, out, err = cli(*argv, "--stop-after-failures", "5")
    assert (status, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("bulk: 14 rows in 7 groups, 5 groups failed (10 rows), ")
    assert lines[0].endswith(f"; stopped early; {target} is resumable (--resume)")
    assert lines[1] == (
        "error: stopped after 5 queries in a row failed with the same error (UpstreamError "
        "500): connection to NVIDIA API failed with status: 500"
    )
    assert len(lines) == 2
    assert len(emulator.requests) <= 7 + 1  # the window: one query in flight at most
    assert len(list(read_rows(target))) == 14


def test_stop_after_in_python_raises_a_typed_error(emulator: Emulator) -> None:
    from reranker_nvidia.bulk import BulkStoppedError

    emulator.fault("status=500")
    run = rerank_table(table(10, 1), config=_config(emulator, max_concurrency=1), stop_after=3)
    seen = []
    with pytest.raises(BulkStoppedError, match=r"^stopped after 3 queries in a row failed"):
        for group in run.groups():
            seen.append(group.key)
    assert seen == ["q000", "q001", "q002"]
    assert run.summary.stopped


def test_resume_scores_again_a_group_an_earlier_version_cut(
    emulator: Emulator, tmp_path: Path, cli: Any
) -> None:
    # What an earlier version left after Ctrl-C or a full disk: a group cut short, and a row
    # kept with no score (a torn row copied over by a resume).
    rows = table(5, 4)
    source = tmp_path / "pairs.jsonl"
    _write_jsonl(source, rows)
    target = tmp_path / "scored.csv"
    assert cli("--input", str(source), "--output", str(target))[0] == 0
    with target.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        names, written = list(reader.fieldnames or []), list(reader)
    written[5]["score"] = ""  # q001's second row: no score, no error
    del written[-2:]  # q004 cut after two rows
    with target.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=names)
        writer.writeheader()
        writer.writerows(written)
    emulator.state.reset()
    status, out, err = cli("--input", str(source), "--output", str(target), "--resume")
    assert (status, err) == (0, "")
    assert "; 3 groups (12 rows) already written" in out
    assert _sent_queries(emulator) == sorted(
        {r["query"] for r in rows if r["query_id"] in ("q001", "q004")}
    )
    with target.open(newline="", encoding="utf-8") as stream:
        final = list(csv.DictReader(stream))
    assert _order(final) == _order(rows)
    assert all(r["score"] != "" for r in final)


def test_the_async_run_refuses_what_the_sync_run_refuses_with_the_same_line() -> None:
    rows = table(2, 600) + table(1, 3)  # q000 again after q001, past the async 1,024-row step
    config = ClientConfig(api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(BulkInputError) as sync:
        list(rerank_table(rows, config=config))

    async def collect() -> None:
        [r async for r in arerank_table(rows, config=config)]

    with pytest.raises(BulkInputError) as asynchronous:
        anyio.run(collect)
    assert type(asynchronous.value) is type(sync.value)
    assert (
        str(asynchronous.value)
        == str(sync.value)
        == ("row 1201: the rows of query 'q000' are not together; sort the input by 'query_id'")
    )


def test_a_written_column_whose_type_changes_between_batches_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    from reranker_nvidia.bulk import _formats, open_writer

    monkeypatch.setattr(_formats, "BATCH_ROWS", 4)
    writer = open_writer(tmp_path / "scored.parquet")
    base = {"query": "q", "passage_id": 1, "passage": "p", "score": 1.0, "rank": 1, "chunk": 0}
    writer.write([{**base, "query_id": "q1", "year": 2024}] * 4)  # the schema: year is int64
    with pytest.raises(BulkInputError) as refused:
        writer.write([{**base, "query_id": "q2", "year": "2024"}] * 4)
    assert str(refused.value).startswith(
        "query 'q2': column 'year' holds '2024', which is not int64 (the column's type)"
    )
    assert "\n" not in str(refused.value)
    writer.discard()
