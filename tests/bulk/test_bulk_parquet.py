"""Parquet and Arrow through pyarrow: column types kept, record batches streamed, memory flat."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from reranker_nvidia import Client
from reranker_nvidia.bulk import _formats, open_writer, read_rows, rerank_table
from reranker_nvidia.cli.main import main
from tests.bulk.conftest import Emulator, table

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _write_parquet(path: Path, rows: list[dict[str, Any]], *, row_group_size: int) -> None:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_the_cli_scores_a_table_batch_by_batch_and_keeps_its_types(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    monkeypatch.setattr(_formats, "BATCH_ROWS", 40)
    rows = [{**r, "passage_id": i} for i, r in enumerate(table(12, 25))]
    source = tmp_path / f"pairs{suffix}"
    if suffix == ".parquet":
        _write_parquet(source, rows, row_group_size=40)
    else:
        with pa.ipc.new_file(str(source), pa.Table.from_pylist(rows).schema) as writer:
            writer.write_table(pa.Table.from_pylist(rows), max_chunksize=40)
    target = tmp_path / f"scored{suffix}"
    argv = ["bulk", "--input", str(source), "--output", str(target), "--base-url", emulator.url]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("bulk: 300 rows in 12 groups, 0 groups failed")
    batches = list(_formats.read_batches(target))
    assert len(batches) >= 300 // 50  # written in batches (whole groups of 25), not at once
    schema = batches[0].schema
    assert [(f.name, str(f.type)) for f in schema] == [
        ("query_id", "string"),
        ("query", "string"),
        ("passage_id", "int64"),
        ("passage", "string"),
        ("score", "double"),
        ("rank", "int64"),
        ("chunk", "int64"),
        ("error", "string"),
    ]
    written = [row for batch in batches for row in batch.to_pylist()]
    assert [r["passage_id"] for r in written] == list(range(300))
    assert all(isinstance(r["score"], float) and r["error"] is None for r in written)


def test_reading_a_parquet_file_is_one_record_batch_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_formats, "BATCH_ROWS", 100)
    source = tmp_path / "pairs.parquet"
    _write_parquet(source, table(10, 100), row_group_size=100)
    batches = _formats.read_batches(source)
    first = next(batches)
    assert first.num_rows == 100
    assert sum(b.num_rows for b in batches) == 900


def _scoring_transport() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        passages = json.loads(request.content)["passages"]
        rankings = [
            {"index": i, "logit": float(len(p["text"]) % 13)} for i, p in enumerate(passages)
        ]
        return httpx.Response(200, json={"rankings": rankings})

    return httpx.MockTransport(handler)


def _peak_bytes(source: Path, target: Path) -> int:
    with Client(api_key="k", transport=_scoring_transport(), max_concurrency=2) as client:
        writer = open_writer(target)
        tracemalloc.start()
        try:
            for group in rerank_table(read_rows(source), client=client).groups():
                writer.write(group.rows)
            writer.close()
            return tracemalloc.get_traced_memory()[1] + pa.total_allocated_bytes()
        finally:
            tracemalloc.stop()


def test_memory_stays_flat_whatever_the_file_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 500 rows (16,384 by default) keep the test quick: the peak is a few batches.
    monkeypatch.setattr(_formats, "BATCH_ROWS", 500)
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    _write_parquet(small, table(40, 100), row_group_size=500)
    _write_parquet(large, table(200, 100), row_group_size=500)
    peak_small = _peak_bytes(small, tmp_path / "small-out.parquet")
    peak_large = _peak_bytes(large, tmp_path / "large-out.parquet")
    assert pq.ParquetFile(tmp_path / "large-out.parquet").metadata.num_rows == 20_000
    # Five times the rows: about the same peak (batches, not the table, are in memory).
    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)
