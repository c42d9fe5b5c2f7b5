"""Bulk with ``on_error``, ``score_transform`` and ``min_score`` (D-EXT-FAIL-OPEN, D-EXT-SCORES).

A query the client failed open on is written in input order, unscored, the error on each row,
and counted as not reranked, not as failed; ``min_score`` drops the rows below it after the
ranking, and the summary says how many. By default bulk's policy is as it was.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import anyio
import pytest

from reranker_nvidia.bulk import ClientConfig, arerank_table, read_rows, rerank_table
from reranker_nvidia.cli.main import main
from tests.bulk.conftest import Emulator, table

ERROR_503 = "connection to NVIDIA API failed with status: 503"


def _config(emulator: Emulator, **kwargs: Any) -> ClientConfig:
    return ClientConfig(api_key="k", base_url=emulator.url, max_concurrency=1, **kwargs)


def _check_not_reranked(out: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    opened = [r for r in out if r["query_id"] == "q002"]
    assert [r["passage_id"] for r in opened] == [
        r["passage_id"] for r in rows if r["query_id"] == "q002"
    ]
    assert all(r["score"] is None and r["rank"] is None for r in opened)
    assert all(r["error"] == ERROR_503 for r in opened)
    assert all(isinstance(r["score"], float) for r in out if r["query_id"] != "q002")
    assert [(r["query_id"], r["passage_id"]) for r in out] == [
        (r["query_id"], r["passage_id"]) for r in rows
    ]


def test_a_query_failed_open_is_written_in_input_order_and_not_counted_as_failed(
    emulator: Emulator,
) -> None:
    emulator.fault("status=503,count=1,after=2")  # the third query
    rows = table(5, 6)
    run = rerank_table(rows, config=_config(emulator, on_error="input_order"), concurrency=1)
    out = list(run)
    _check_not_reranked(out, rows)
    s = run.summary
    assert (s.groups, s.failed_groups, s.not_reranked_groups, s.not_reranked_rows) == (5, 0, 1, 6)
    assert s.first_not_reranked == ERROR_503
    assert "0 groups failed (0 rows)" in s.line()
    assert "; 1 groups (6 rows) not reranked, in input order" in s.line()


def test_the_async_run_fails_open_alike(emulator: Emulator) -> None:
    emulator.fault("status=503,count=1,after=2")
    rows = table(5, 6)

    async def collect() -> tuple[list[dict[str, Any]], int]:
        run = arerank_table(rows, config=_config(emulator, on_error="input_order"), concurrency=1)
        out = [row async for row in run]
        return out, run.summary.not_reranked_groups

    out, opened = anyio.run(collect)
    _check_not_reranked(out, rows)
    assert opened == 1


def test_by_default_the_query_fails_as_before(emulator: Emulator) -> None:
    emulator.fault("status=503,count=1,after=2")
    run = rerank_table(table(5, 6), config=_config(emulator), concurrency=1)
    list(run)
    s = run.summary
    assert (s.failed_groups, s.not_reranked_groups) == (1, 0)
    assert "not reranked" not in s.line()
    assert "dropped" not in s.line()


def test_min_score_drops_the_rows_below_it_after_the_ranking(emulator: Emulator) -> None:
    rows = table(3, 12)
    every = list(rerank_table(rows, config=_config(emulator, score_transform="nvidia-rag")))
    threshold = max(r["score"] for r in every)  # the best score: kept, the others dropped
    run = rerank_table(
        rows, config=_config(emulator, score_transform="nvidia-rag", min_score=threshold)
    )
    kept = list(run)
    expected = [r for r in every if r["score"] >= threshold]
    assert 0 < len(expected) < len(every)  # the threshold cuts somewhere
    assert kept == expected  # the same rows, scores and ranks, in input order
    for q in ("q000", "q001", "q002"):
        ranks = sorted(r["rank"] for r in kept if r["query_id"] == q)
        assert ranks == list(range(1, len(ranks) + 1))
    s = run.summary
    assert s.dropped_rows == len(every) - len(kept)
    assert s.rows == len(kept)
    assert f"; {s.dropped_rows} rows dropped below min_score" in s.line()


def test_score_transform_maps_every_score(emulator: Emulator) -> None:
    rows = table(2, 5)
    raw = list(rerank_table(rows, config=_config(emulator)))
    mapped = list(rerank_table(rows, config=_config(emulator, score_transform="nvidia-rag")))
    assert [r["score"] for r in mapped] == [
        pytest.approx(1 / (1 + math.exp(-0.1 * r["score"]))) for r in raw
    ]
    assert [r["rank"] for r in mapped] == [r["rank"] for r in raw]


def test_the_cli_fails_open_with_status_3_and_one_warning_line(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    rows = table(4, 3)
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    emulator.fault("status=503,count=2,after=1")  # the second and third queries
    argv = [
        "bulk", "--input", str(source), "--output", str(target), "--base-url", emulator.url,
        "--concurrency", "1", "--fail-open", "--min-score", "-1000",
    ]  # fmt: skip
    assert main(argv) == 3
    out, err = capsys.readouterr()
    assert "0 groups failed (0 rows)" in out
    assert "; 2 groups (6 rows) not reranked, in input order" in out
    assert err == (
        f"warning: reranking failed, documents kept in their input order: {ERROR_503} (2 times)\n"
    )
    written = list(read_rows(target))
    assert [r["query_id"] for r in written] == [r["query_id"] for r in rows]
    assert [r["score"] is None for r in written] == [False] * 3 + [True] * 6 + [False] * 3
