"""Arrow input stays Arrow: the same rows and files as the row path, and any concurrency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reranker_nvidia import Client
from reranker_nvidia.bulk import ClientConfig, open_writer, read_rows, rerank_table
from reranker_nvidia.bulk._columnar import ArrowRows, runs
from tests.bulk.conftest import Emulator, table

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _rows() -> list[dict[str, Any]]:
    rows = [{**r, "extra": i % 5, "score": "old"} for i, r in enumerate(table(5, [3, 1, 7, 2, 5]))]
    rows += [{**r, "extra": 1, "score": "old"} for r in table(4, 2, start=20)]
    return rows


def _scoring_transport() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        passages = json.loads(request.content)["passages"]
        rankings = [
            {"index": i, "logit": float(len(p["text"]) % 7)} for i, p in enumerate(passages)
        ]
        return httpx.Response(200, json={"rankings": rankings})

    return httpx.MockTransport(handler)


def test_runs_are_found_by_id_whatever_the_type() -> None:
    batch = pa.record_batch({"id": [1, 1, 2, 2, 2, 1, 3]})
    assert runs(batch, "id") == [(0, 2, 1), (2, 5, 2), (5, 6, 1), (6, 7, 3)]
    nulls = pa.record_batch({"id": ["a", None, None, "a"]})
    assert runs(nulls, "id") == [(0, 1, "a"), (1, 3, "None"), (3, 4, "a")]
    assert runs(pa.record_batch({"id": pa.array([], pa.int64())}), "id") == []


def test_a_table_gives_the_rows_a_list_of_rows_gives() -> None:
    rows = _rows()
    with Client(api_key="k", transport=_scoring_transport(), max_documents=3) as client:
        from_rows = list(rerank_table(rows, client=client))
        tables = [pa.Table.from_pylist(rows).slice(i, 6) for i in range(0, len(rows), 6)]
        run = rerank_table(tables, client=client)
        groups = list(run.groups())
    assert all(isinstance(g.rows, ArrowRows) for g in groups)  # kept as Arrow
    from_arrow = [row for g in groups for row in g.rows]
    assert from_arrow == from_rows
    assert [list(row) for row in from_arrow] == [list(row) for row in from_rows]  # key order


def test_a_bad_cell_in_a_batch_fails_its_query_with_the_row_s_number() -> None:
    rows = table(3, 4)
    rows[6]["passage"] = None
    with Client(api_key="k", transport=_scoring_transport()) as client:
        run = rerank_table([pa.Table.from_pylist(rows)], client=client)
        out = list(run)
    errors = {r["query_id"]: r["error"] for r in out}
    assert errors == {
        "q000": None,
        "q001": "row 7: 'passage' is empty and there is no image",
        "q002": None,
    }
    assert run.summary.failed_groups == 1


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_the_file_written_from_arrow_is_the_file_written_from_rows(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows()
    source = tmp_path / f"in{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), source, row_group_size=7)
    else:
        with pa.ipc.new_file(str(source), pa.Table.from_pylist(rows).schema) as w:
            w.write_table(pa.Table.from_pylist(rows), max_chunksize=7)
    schema = pa.Table.from_pylist(rows).schema
    written = []
    for name, source_of in (("arrow", read_rows(source)), ("rows", list(read_rows(source)))):
        target = tmp_path / f"{name}{suffix}"
        writer = open_writer(target, schema=schema)
        with Client(api_key="k", transport=_scoring_transport(), max_documents=2) as client:
            for group in rerank_table(source_of, client=client).groups():
                writer.write(group.rows)
        writer.close()
        written.append(target.read_bytes())
    assert written[0] == written[1]


def test_more_concurrency_gives_the_same_rows(emulator: Emulator) -> None:
    rows = table(12, [1 + (q * 13) % 9 for q in range(12)])
    config = ClientConfig(api_key="k", base_url=emulator.url, max_documents=3)
    outs = [list(rerank_table(rows, config=config, concurrency=c)) for c in (1, 4, 32)]
    assert outs[0] == outs[1] == outs[2]
    assert len(outs[0]) == len(rows) and all(isinstance(r["score"], float) for r in outs[0])
    with Client(api_key="k", base_url=emulator.url, max_documents=3) as client:
        assert list(rerank_table(rows, client=client, concurrency=4)) == outs[0]


def test_the_default_concurrency_is_not_the_cpu_count() -> None:
    from reranker_nvidia.bulk._run import DEFAULT_CONCURRENCY

    run = rerank_table([], config=ClientConfig(api_key="k", max_concurrency=1))
    assert run._concurrency == DEFAULT_CONCURRENCY == 16


@pytest.mark.parametrize(
    "scores",
    [
        [1.0, 3.0, 3.0, -2.0, 0.0, -0.0, 0.0, 3.0],
        [0.5] * 5,
        [float(i % 7) - 3.5 for i in range(600)],
    ],
)
def test_arrow_ranks_are_the_row_path_s(scores: list[float]) -> None:
    from reranker_nvidia.bulk._columnar import arrow_ranks
    from reranker_nvidia.bulk._groups import ranks

    assert arrow_ranks(scores) == ranks(scores)


def test_a_nan_score_is_ranked_by_the_row_path() -> None:
    from reranker_nvidia.bulk._columnar import arrow_ranks

    assert arrow_ranks([1.0, float("nan")]) is None


@given(st.lists(st.floats(allow_nan=False, width=64), max_size=60))
def test_arrow_ranks_are_the_row_path_s_for_any_scores(scores: list[float]) -> None:
    from reranker_nvidia.bulk._columnar import arrow_ranks
    from reranker_nvidia.bulk._groups import ranks

    assert arrow_ranks(scores) == ranks(scores)


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=30))
def test_a_batch_is_cut_where_the_row_path_cuts_it(ids: list[str]) -> None:
    from reranker_nvidia.bulk._columnar import runs

    cut = runs(pa.record_batch({"id": pa.array(ids, pa.string())}), "id")
    expected = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    assert [start for start, _, _ in cut] == expected
    assert [ids[start] for start, _, _ in cut] == [value for _, _, value in cut]
