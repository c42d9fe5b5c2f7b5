"""Usage counts what the emulator received; a cache hit returns exactly what its miss returned.

Runs the real clients against the emulator on a loopback socket, for random
documents, chunk sizes (``max_documents``), retries and transient faults.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from tests.property._support import PROPERTY

emulator = pytest.importorskip("nim_emulator")

MODEL = "nvidia/llama-nemotron-rerank-1b-v2"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Any]]:
    app = emulator.create_app(emulator.EmulatorConfig(include_usage=True))
    with emulator.running_emulator(app=app) as base_url:
        yield base_url, app.state.emulator


words = st.text(alphabet="abcdefgh ", min_size=1, max_size=20).filter(str.strip)


@st.composite
def retries_and_faults(draw: st.DrawFn) -> tuple[int, int]:
    """``(retries, k)`` with ``k <= retries``: every fault can be outlasted."""
    retries = draw(st.integers(min_value=0, max_value=2))
    return retries, draw(st.integers(min_value=0, max_value=retries))


def cfg(base_url: str) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": base_url, "model": MODEL})


@settings(PROPERTY, max_examples=20)
@given(
    documents=st.lists(words, min_size=0, max_size=9),
    max_documents=st.integers(min_value=1, max_value=4),
    counts=retries_and_faults(),
    fault=st.sampled_from(["status=503,retry-after=0", "status=429,retry-after=0", "drop"]),
    run_async=st.booleans(),
)
def test_usage_requests_equal_the_requests_the_emulator_received(
    *,
    served: tuple[str, Any],
    documents: list[str],
    max_documents: int,
    counts: tuple[int, int],
    fault: str,
    run_async: bool,
) -> None:
    base_url, state = served
    retries, k = counts
    state.clear_faults()
    state.reset()
    if k and documents:
        state.add_fault(f"{fault},count={k}")
    kwargs: dict[str, Any] = {
        "endpoint": "ranking",
        "usage": True,
        "retries": retries,
        "max_documents": max_documents,
    }
    if run_async:

        async def main() -> Any:
            async with AsyncClient("k", 20, **kwargs) as client:
                return await client.rank("library", documents, cfg(base_url))

        result = anyio.run(main)
    else:
        with Client("k", 20, **kwargs) as client:
            result = client.rank("library", documents, cfg(base_url))
    usage = result.usage
    chunks = -(-len(documents) // max_documents)
    assert usage is not None
    assert usage.requests == len(state.requests)
    assert (usage.chunks, usage.passages, usage.cache_hits) == (chunks, len(documents), 0)
    assert (usage.total_tokens is None) == (chunks == 0)


@settings(PROPERTY, max_examples=15)
@given(
    query=words,
    documents=st.lists(words, min_size=1, max_size=9),
    max_documents=st.integers(min_value=1, max_value=4),
    spec=st.sampled_from(["memory", "memory:2", "sqlite"]),
)
def test_a_cache_hit_returns_exactly_the_scores_a_miss_returned(
    *,
    served: tuple[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    query: str,
    documents: list[str],
    max_documents: int,
    spec: str,
) -> None:
    base_url, state = served
    state.clear_faults()
    state.reset()
    if spec == "sqlite":
        spec = f"sqlite:{tmp_path_factory.mktemp('cache') / 'scores.db'}"
    # One chunk at a time: a chunk equal to an earlier one of the same call is a hit too.
    cut = [tuple(documents[i : i + max_documents]) for i in range(0, len(documents), max_documents)]
    distinct = len(set(cut))
    one_at_a_time = {"max_documents": max_documents, "max_concurrency": 1}
    with Client("k", 20, endpoint="ranking", cache=spec, **one_at_a_time) as client:
        miss = client.rank(query, documents, cfg(base_url))
        sent = len(state.requests)
        hit = client.rank(query, documents, cfg(base_url))
    if spec != "memory:2" or distinct <= 2:  # an LRU of 2 chunks may forget some
        assert sent == distinct
        assert len(state.requests) == sent  # the second call sent nothing
    assert [s.score for s in hit.document_scores] == [s.score for s in miss.document_scores]
    assert [s.document for s in hit.document_scores] == documents
