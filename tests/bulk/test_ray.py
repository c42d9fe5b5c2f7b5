"""The bulk path on Ray Data, against the emulator on loopback.

The tests marked ``ray`` start a local Ray (``ray.init(num_cpus=2)``) once for
the module and stop it at the end; ``-m "not ray"`` deselects them. The others
call the callable class in this process, with no Ray cluster.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reranker_nvidia.bulk import ClientConfig, rerank_table
from tests.bulk.conftest import Emulator, table
from tests.support.doc_blocks import ROOT, offline_environment

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

from reranker_nvidia.bulk.ray import Reranker, rerank_dataset  # noqa: E402 - after the skips

ROWS = table(200, 100)  # 20,000 rows over 200 queries

# Ray Data warns about its own settings when it builds its context; not ours to fix.
ray_warnings = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:ray\.")


def _config(emulator: Emulator, **kwargs: Any) -> ClientConfig:
    return ClientConfig(api_key="k", base_url=emulator.url, **kwargs)


def _by_pair(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    pairs = Counter((r["query_id"], r["passage_id"]) for r in rows)
    assert max(pairs.values()) == 1, "a row came back twice"
    return {(r["query_id"], r["passage_id"]): (r["score"], r["rank"], r["chunk"]) for r in rows}


def test_each_actor_takes_its_share_of_the_rpm_budget(emulator: Emulator) -> None:
    with Reranker(_config(emulator, requests_per_minute=600), actors=4) as reranker:
        assert reranker.config.requests_per_minute == 150
    with Reranker(_config(emulator), actors=4) as unlimited:
        assert unlimited.config.requests_per_minute is None


def test_the_callable_class_takes_pyarrow_and_pandas_batches(emulator: Emulator) -> None:
    rows = table(3, 7)
    expected = list(rerank_table(rows, config=_config(emulator, max_documents=3)))
    with Reranker(_config(emulator, max_documents=3)) as reranker:
        from_arrow = reranker(pa.Table.from_pylist(rows))
        from_pandas = reranker(pd.DataFrame(rows))
        with pytest.raises(TypeError, match="takes pyarrow, pandas or numpy batches, not list"):
            reranker(rows)
    assert isinstance(from_arrow, pa.Table)
    assert from_arrow.to_pylist() == expected
    assert isinstance(from_pandas, pd.DataFrame)
    assert list(from_pandas["score"]) == [r["score"] for r in expected]
    assert list(from_pandas["chunk"]) == [0, 0, 0, 1, 1, 1, 2] * 3


def test_order_by_orders_each_query_s_rows_before_chunking(emulator: Emulator) -> None:
    rows = [{**r, "position": i} for i, r in enumerate(table(1, 6))]
    shuffled = pa.Table.from_pylist([rows[i] for i in (4, 0, 5, 2, 1, 3)])
    with Reranker(_config(emulator, max_documents=4), order_by="position") as reranker:
        out = reranker(shuffled).to_pylist()
    assert [r["position"] for r in out] == list(range(6))
    assert [r["chunk"] for r in out] == [0, 0, 0, 0, 1, 1]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _on_ray(ray: Any, config: ClientConfig) -> list[dict[str, Any]]:
    dataset = ray.data.from_items(ROWS)
    scored = rerank_dataset(dataset, config, actors=2, num_partitions=4)
    rows: list[dict[str, Any]] = scored.take_all()
    return rows


@pytest.mark.ray
@ray_warnings
def test_with_retries_on_ray_gives_the_single_process_scores_row_for_row(
    emulator: Emulator, ray_cluster: Any
) -> None:
    single = _by_pair(list(rerank_table(ROWS, config=_config(emulator))))
    emulator.state.reset()
    # Retry-After: 0, so no pause; more retries than 503s, so no group can run out of them.
    emulator.fault("status=503,count=12,retry-after=0")
    out = _on_ray(ray_cluster, _config(emulator, retries=12))
    statuses = Counter(r.status for r in emulator.requests)
    assert statuses == {200: 200, 503: 12}  # every 503 was retried, and only those
    assert all(r["error"] is None for r in out)
    assert _by_pair(out) == single  # score, rank and chunk; no row lost or duplicated
    assert len(out) == 20_000


@pytest.mark.ray
@ray_warnings
def test_with_retries_off_the_failed_groups_are_exactly_those_answered_503(
    emulator: Emulator, ray_cluster: Any
) -> None:
    emulator.fault("status=503,count=7,retry-after=0")
    out = _on_ray(ray_cluster, _config(emulator))
    assert len(_by_pair(out)) == 20_000
    query_ids = {r["query"]: r["query_id"] for r in ROWS}
    answered_503 = {
        query_ids[r.json["query"]["text"]] for r in emulator.requests if r.status == 503
    }
    assert len(answered_503) == 7
    failed = {r["query_id"] for r in out if r["error"] is not None}
    assert failed == answered_503
    assert all(r["score"] is None and r["rank"] is None for r in out if r["error"] is not None)
    assert all(isinstance(r["score"], float) for r in out if r["error"] is None)


_RAY_EXAMPLE = re.compile(r"^```python ray\n(.*?)^```", re.M | re.S)
_SHOWN = re.compile(r"print\(.*\)  # → (.*)$", re.M)


@pytest.mark.ray
@ray_warnings
def test_the_ray_example_of_docs_bulk_md_runs_the_reranking_once(
    ray_cluster: Any, tmp_path: Path
) -> None:
    # The documentation test of docs/bulk.md's Ray example (its fence, "python ray", keeps it
    # out of the generic block runner, which wants a silent stderr: Ray logs to it). Run as
    # written, on the module's local Ray (RAY_ADDRESS: its ray.init() joins it).
    (code,) = _RAY_EXAMPLE.findall((ROOT / "docs" / "bulk.md").read_text(encoding="utf-8"))
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = offline_environment()
    env["RAY_ADDRESS"] = ray_cluster.get_runtime_context().gcs_address
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    # Every "# → " line, in order: 100 rows and no failure, and 20 requests for 20 queries
    # (counting the lazy dataset after writing it would have sent 40).
    assert done.stdout.splitlines() == _SHOWN.findall(code) == ["100 0", "20"]
