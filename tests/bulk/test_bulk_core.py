"""The bulk path in the core: grouping, chunking, ranks, failures, JSON Lines and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from reranker_nvidia import Client
from reranker_nvidia.bulk import (
    BulkInputError,
    BulkSummary,
    ClientConfig,
    Columns,
    arerank_table,
    read_rows,
    rerank_table,
)
from reranker_nvidia.bulk._groups import ScoredGroup, chunk_numbers, iter_groups, ranks
from reranker_nvidia.cli.bulk import ProgressBar
from reranker_nvidia.cli.main import main
from reranker_nvidia.errors import ConfigError, MissingAPIKeyError
from reranker_nvidia.extensions.images import Passage
from tests.bulk.conftest import Emulator, table


def _config(emulator: Emulator, **kwargs: Any) -> ClientConfig:
    return ClientConfig(api_key="k", base_url=emulator.url, **kwargs)


def _pairs(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((str(r["query_id"]), str(r["passage_id"])) for r in rows)


def test_each_row_gets_the_score_client_rank_gives_its_query(emulator: Emulator) -> None:
    rows = table(4, [3, 700, 1, 20])
    run = rerank_table(rows, config=_config(emulator, max_documents=256, max_concurrency=3))
    out = list(run)
    assert len(emulator.requests) == 6
    assert _pairs(out) == _pairs(rows)
    assert [r["query_id"] for r in out] == [r["query_id"] for r in rows]  # input order
    with Client(api_key="k", max_documents=256) as client:
        for q in ("q000", "q001", "q002", "q003"):
            group = [r for r in rows if r["query_id"] == q]
            result = client.rank(
                group[0]["query"],
                [r["passage"] for r in group],
                _config(emulator).class_config(),
            )
            expected = [d.score for d in result.document_scores]
            assert [r["score"] for r in out if r["query_id"] == q] == expected
    big = [r for r in out if r["query_id"] == "q001"]
    assert [r["chunk"] for r in big] == [0] * 256 + [1] * 256 + [2] * 188
    assert sorted(r["rank"] for r in big) == list(range(1, 701))
    assert all(r["error"] is None for r in out)
    s = run.summary
    assert (s.rows, s.groups, s.failed_groups, s.requests) == (724, 4, 0, 1 + 3 + 1 + 1)


def test_ranks_follow_scores_and_ties_keep_input_order() -> None:
    assert ranks([0.5, 2.0, 0.5, -1.0, 2.0]) == [3, 1, 4, 5, 2]
    assert chunk_numbers(["a"] * 5, 2) == [0, 0, 1, 1, 2]
    assert chunk_numbers([], 2) == []


def test_a_failed_group_carries_its_error_and_no_score_and_the_run_goes_on(
    emulator: Emulator,
) -> None:
    emulator.fault("status=503,count=1,after=2")  # the third request
    run = rerank_table(table(5, 10), config=_config(emulator, max_concurrency=1), concurrency=1)
    out = list(run)
    failed = [r for r in out if r["error"] is not None]
    assert {r["query_id"] for r in failed} == {"q002"}
    assert len(failed) == 10
    assert all(r["score"] is None and r["rank"] is None for r in failed)
    assert failed[0]["error"] == "connection to NVIDIA API failed with status: 503"
    assert all(isinstance(r["score"], float) for r in out if r["query_id"] != "q002")
    s = run.summary
    assert (s.groups, s.failed_groups, s.failed_rows) == (5, 1, 10)
    assert "1 groups failed (10 rows)" in s.line()


def test_retries_heal_the_failures_when_on(emulator: Emulator) -> None:
    emulator.fault("status=503,count=3,retry-after=0")  # NVIDIA's own 503 asks for 3 hours
    out = list(rerank_table(table(3, 5), config=_config(emulator, retries=3, max_concurrency=1)))
    assert all(r["error"] is None for r in out)
    assert len(emulator.requests) == 6


def test_a_setting_every_group_would_fail_on_stops_the_run(emulator: Emulator) -> None:
    run = rerank_table(table(3, 2), config=ClientConfig(base_url=emulator.url))  # no key
    with pytest.raises(MissingAPIKeyError, match="no api key found"):
        list(run)
    assert emulator.requests == []


def test_rows_of_a_query_must_be_together() -> None:
    rows = table(2, 2) + table(1, 1)
    with pytest.raises(BulkInputError, match=r"row 5: the rows of query 'q000' are not together"):
        list(rerank_table(rows, config=ClientConfig(api_key="k", base_url="http://127.0.0.1:9")))


def test_a_missing_column_is_one_line() -> None:
    with pytest.raises(BulkInputError, match=r"^row 1: no column 'passage'$"):
        list(rerank_table([{"query_id": 1, "query": "q", "passage_id": 1}]))


def test_column_names_can_be_chosen(emulator: Emulator) -> None:
    rows = [{"qid": 7, "q": "library", "pid": i, "text": f"library {i}"} for i in range(3)]
    columns = Columns(query_id="qid", query="q", passage_id="pid", passage="text")
    out = list(rerank_table(rows, config=_config(emulator), columns=columns))
    assert [r["pid"] for r in out] == [0, 1, 2]
    assert all(isinstance(r["score"], float) for r in out)


def test_skip_sends_nothing_for_those_groups(emulator: Emulator) -> None:
    run = rerank_table(table(4, 3), config=_config(emulator), skip={"q001", "q003"})
    out = list(run)
    assert {r["query_id"] for r in out} == {"q000", "q002"}
    assert (run.summary.skipped_groups, run.summary.skipped_rows) == (2, 6)
    assert len(emulator.requests) == 2


def test_arrow_batches_and_data_frames_are_read_as_rows(emulator: Emulator) -> None:
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    rows = table(3, 4)
    batches = pa.Table.from_pylist(rows).to_batches(max_chunksize=5)
    assert len(batches) == 3  # a query's rows cross a batch boundary
    from_arrow = list(rerank_table(batches, config=_config(emulator)))
    from_pandas = list(rerank_table([pd.DataFrame(rows)], config=_config(emulator)))
    plain = list(rerank_table(rows, config=_config(emulator)))
    assert from_arrow == plain == from_pandas


def test_the_async_run_gives_the_sync_run_s_rows(emulator: Emulator) -> None:
    rows = table(30, [1 + (q * 37) % 60 for q in range(30)])
    sync = list(rerank_table(rows, config=_config(emulator, max_documents=16)))

    async def collect() -> list[dict[str, object]]:
        async def source() -> Any:
            for row in rows:
                yield row

        run = arerank_table(source(), config=_config(emulator, max_documents=16), concurrency=3)
        out = [row async for row in run]
        assert run.summary.groups == 30
        return out

    assert anyio.run(collect) == sync


def test_the_cli_scores_json_lines_and_csv(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(6, 9)
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    flags = ["--base-url", emulator.url, "--max-documents", "4"]
    status = main(["bulk", "--input", str(source), "--output", str(tmp_path / "s.csv"), *flags])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert out.startswith("bulk: 54 rows in 6 groups, 0 groups failed (0 rows), 18 requests, ")
    assert out.endswith(f" -> {tmp_path / 's.csv'}\n")
    assert not (tmp_path / "s.csv.partial").exists()
    with (tmp_path / "s.csv").open(newline="") as stream:
        written = list(csv.DictReader(stream))
    header = ["query_id", "query", "passage_id", "passage", "score", "rank", "chunk", "error"]
    assert list(written[0]) == header
    assert _pairs(written) == _pairs(rows)
    assert [r["chunk"] for r in written[:9]] == ["0"] * 4 + ["1"] * 4 + ["2"]
    # CSV in, JSON Lines out: the same scores.
    again_argv = ["--input", str(tmp_path / "s.csv"), "--output", str(tmp_path / "t.jsonl")]
    assert main(["bulk", *again_argv, *flags]) == 0
    again = list(read_rows(tmp_path / "t.jsonl"))
    assert [repr(r["score"]) for r in again] == [r["score"] for r in written]


def test_the_cli_refuses_to_overwrite_and_reports_failed_groups(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in table(3, 2)), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    target.write_text("")
    argv = ["bulk", "--input", str(source), "--output", str(target), "--base-url", emulator.url]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        f"error: {target} exists: pass --resume to go on with it, or remove it\n"
    )
    target.unlink()
    emulator.fault("status=500,count=1")
    assert main([*argv, "--concurrency", "1"]) == 1
    out, err = capsys.readouterr()
    assert "1 groups failed (2 rows)" in out
    assert err == (
        f"error: 1 groups failed; their rows in {target} carry the error "
        "(--resume sends them again); the most common, in 1 groups: "
        "connection to NVIDIA API failed with status: 500\n"
    )
    failed = [r for r in read_rows(target) if r["error"]]
    assert [r["query_id"] for r in failed] == ["q000", "q000"]


def test_the_bulk_modules_need_only_the_core() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, reranker_nvidia.bulk, reranker_nvidia.bulk.ray, reranker_nvidia.cli.bulk; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'pandas', 'ray')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_parquet_without_pyarrow_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ConfigError, match=r"^parquet tables need pyarrow: pip install "):
        list(read_rows(tmp_path / "pairs.parquet"))


def test_an_image_column_makes_a_passage_with_its_image() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    rows = [
        {"query_id": 1, "query": "q", "passage_id": 1, "passage": "caption", "image": image},
        {"query_id": 1, "query": "q", "passage_id": 2, "passage": "text only", "image": None},
        {"query_id": 1, "query": "q", "passage_id": 3, "passage": None, "image": image},
    ]
    (group,) = iter_groups(rows)
    assert group.documents == [
        Passage(text="caption", image=image),
        "text only",
        Passage(text=None, image=image),
    ]


def test_the_progress_bar_shows_rows_groups_rate_and_eta_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    summary = BulkSummary(rows=250, groups=5, failed_groups=1, seconds=2.0)
    group = ScoredGroup("q", [], None, 1)
    shown = Terminal()
    ProgressBar(shown, 1000, 0)(group, summary, force=True)
    assert shown.getvalue() == (
        "\r\x1b[Krows 250/1000 (25.0%)  groups 5  failed 1  125 rows/s  ETA 0:06"
    )
    quiet = io.StringIO()
    ProgressBar(quiet, 1000, 0)(group, summary, force=True)
    assert quiet.getvalue() == ""
