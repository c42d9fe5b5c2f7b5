"""Bulk runs with ``usage=True`` (tokens in the summary and per group) and with a cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator
from reranker_nvidia.bulk import ClientConfig, arerank_table, rerank_table
from reranker_nvidia.cli.main import main
from tests.bulk.conftest import table

MODEL = "nvidia/llama-nemotron-rerank-1b-v2"


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[str, Any]]:
    app = create_app(EmulatorConfig(include_usage=True))
    with running_emulator(app=app) as base:
        yield base, app.state.emulator


@pytest.fixture
def served(_server: tuple[str, Any]) -> tuple[str, Any]:
    base, state = _server
    state.clear_faults()
    state.reset()
    return base, state


def config(base: str, **more: Any) -> ClientConfig:
    return ClientConfig("k", base_url=base, model=MODEL, endpoint="ranking", **more)


def test_usage_adds_tokens_to_each_group_and_the_summary(served: tuple[str, Any]) -> None:
    base, state = served
    run = rerank_table(table(3, [2, 5, 1]), config=config(base, usage=True, max_documents=2))
    groups = list(run.groups())
    usages = [g.usage for g in groups]
    assert all(u is not None for u in usages)
    assert [u.chunks for u in usages if u] == [1, 3, 1]
    assert [u.passages for u in usages if u] == [2, 5, 1]
    tokens = [u.total_tokens for u in usages if u]
    assert all(isinstance(t, int) and t > 0 for t in tokens)
    summary = run.summary
    assert summary.total_tokens == sum(t for t in tokens if t is not None)
    assert summary.prompt_tokens == summary.total_tokens
    assert summary.requests == len(state.requests) == 5
    assert (
        summary.line().split(" s, ")[1].endswith(f", 0 cache hits, tokens {summary.total_tokens}")
    )


def test_async_usage_is_the_same(served: tuple[str, Any]) -> None:
    base, _ = served

    async def main_() -> Any:
        run = arerank_table(table(2, 3), config=config(base, usage=True))
        return [g async for g in run.groups()], run.summary

    groups, summary = anyio.run(main_)
    assert summary.total_tokens == sum(g.usage.total_tokens for g in groups)
    assert summary.usage is True


def test_without_usage_no_tokens_are_reported(served: tuple[str, Any]) -> None:
    base, _ = served
    run = rerank_table(table(2, 3), config=config(base))
    groups = list(run.groups())
    assert [g.usage for g in groups] == [None, None]
    assert (run.summary.usage, run.summary.total_tokens) == (False, None)
    assert "tokens" not in run.summary.line()


def test_a_cached_run_sends_nothing_and_scores_the_same(
    served: tuple[str, Any], tmp_path: Path
) -> None:
    base, state = served
    spec = f"sqlite:{tmp_path / 'scores.db'}"
    first = list(rerank_table(table(3, 4), config=config(base, cache=spec)))
    sent = len(state.requests)
    run = rerank_table(table(3, 4), config=config(base, cache=spec, usage=True))
    second = list(run)
    assert sent == 3
    assert len(state.requests) == sent
    assert [r["score"] for r in second] == [r["score"] for r in first]
    assert (run.summary.requests, run.summary.cache_hits) == (0, 3)
    assert run.summary.total_tokens is None  # nothing was answered: no tokens to count


# ---- the command


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _scores(path: Path) -> list[Any]:
    return [json.loads(line)["score"] for line in path.read_text().splitlines()]


def test_bulk_with_a_sqlite_cache_a_second_run_sends_nothing(
    served: tuple[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, state = served
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    source = _jsonl(tmp_path / "pairs.jsonl", table(4, 3))
    flags = ["--base-url", base, "--model", MODEL, "--endpoint", "ranking"]
    flags += ["--cache", f"sqlite:{tmp_path / 'scores.db'}", "--usage"]
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["bulk", "--input", str(source), "--output", str(one), *flags]) == 0
    first = capsys.readouterr().out
    assert len(state.requests) == 4
    assert main(["bulk", "--input", str(source), "--output", str(two), *flags]) == 0
    second = capsys.readouterr().out
    assert len(state.requests) == 4
    assert _scores(two) == _scores(one)
    assert ", 4 requests, " in first and ", 0 cache hits, tokens " in first
    assert ", 0 requests, " in second and ", 4 cache hits, no token counts" in second


def test_usage_puts_each_query_s_tokens_on_its_rows(served: tuple[str, Any]) -> None:
    base, _ = served
    run = rerank_table(table(3, [2, 5, 1]), config=config(base, usage=True, max_documents=2))
    groups = list(run.groups())
    for group in groups:
        assert group.usage is not None
        assert group.usage.prompt_tokens is not None and group.usage.total_tokens is not None
        for row in group.rows:
            assert list(row)[-2:] == ["prompt_tokens", "total_tokens"]
            assert (row["prompt_tokens"], row["total_tokens"]) == (
                group.usage.prompt_tokens,
                group.usage.total_tokens,
            )
    plain = list(rerank_table(table(3, [2, 5, 1]), config=config(base, max_documents=2)))
    assert all("total_tokens" not in row and "prompt_tokens" not in row for row in plain)


def test_async_usage_columns_are_the_sync_run_s(served: tuple[str, Any]) -> None:
    base, _ = served
    rows = table(4, [3, 1, 4, 2])
    sync = list(rerank_table(rows, config=config(base, usage=True, max_documents=2)))

    async def collect() -> list[dict[str, object]]:
        run = arerank_table(rows, config=config(base, usage=True, max_documents=2))
        return [row async for row in run]

    assert anyio.run(collect) == sync
    assert all(isinstance(row["total_tokens"], int) for row in sync)


def test_a_service_without_token_counts_gives_null_columns(
    emulator_without_usage: str,
) -> None:
    run = rerank_table(table(2, 3), config=config(emulator_without_usage, usage=True))
    rows = list(run)
    assert len(rows) == 6
    assert all(row["prompt_tokens"] is None and row["total_tokens"] is None for row in rows)


@pytest.fixture(scope="module")
def emulator_without_usage() -> Iterator[str]:
    with running_emulator(app=create_app(EmulatorConfig(include_usage=False))) as base:
        yield base


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_the_cli_writes_token_columns_with_usage_only(
    served: tuple[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    base, _ = served
    if suffix == ".parquet":
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setenv("NVIDIA_APIKEY", "k")
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in table(3, 4)))
    argv = ["bulk", "--input", str(source), "--base-url", base, "--model", MODEL]
    argv += ["--endpoint", "ranking"]
    read: dict[str, list[str]] = {}
    for name, more in (("plain", []), ("usage", ["--usage"])):
        target = tmp_path / f"{name}{suffix}"
        assert main([*argv, "--output", str(target), *more]) == 0
        capsys.readouterr()
        if suffix == ".parquet":
            written = pq.read_table(target)
            read[name] = written.column_names
            if name == "usage":
                assert written.schema.field("total_tokens").type == pa.int64()
                assert written.column("total_tokens").null_count == 0
        elif suffix == ".csv":
            read[name] = target.read_text().splitlines()[0].split(",")
        else:
            rows = [json.loads(line) for line in target.read_text().splitlines()]
            read[name] = list(rows[0])
            if name == "usage":
                assert all(isinstance(row["total_tokens"], int) for row in rows)
    inputs = ["query_id", "query", "passage_id", "passage"]
    assert read["plain"] == [*inputs, "score", "rank", "chunk", "error"]
    assert read["usage"] == [*read["plain"], "prompt_tokens", "total_tokens"]
