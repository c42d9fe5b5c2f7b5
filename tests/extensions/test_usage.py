"""``usage=True``: what a call cost, in ``result.usage`` (D-EXT-USAGE)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator
from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import UpstreamError
from reranker_nvidia.extensions.usage import Tally, tokens_of
from reranker_nvidia.modulecomponents.ent.rank_result import Usage
from tests.extensions._support import Recorder, cfg, client

MODEL = "nvidia/llama-nemotron-rerank-1b-v2"
DOCUMENTS = ["Library hours 9-5.", "Cafeteria 8-8.", "Gym 6-10.", "The library lends films."]


# ---- the tally alone


def test_tokens_of_reads_nims_usage_and_nothing_else() -> None:
    assert tokens_of(b'{"rankings":[],"usage":{"prompt_tokens":7,"total_tokens":9}}') == {
        "prompt_tokens": 7,
        "total_tokens": 9,
    }
    assert tokens_of(b'{"rankings":[]}') is None
    assert tokens_of(b'{"rankings":[],"usage":null}') is None
    assert tokens_of(b'{"rankings":[],"usage":{"prompt_tokens":-1,"total_tokens":true}}') is None
    assert tokens_of(b'{"usage": not json') is None
    assert tokens_of(b'["usage"]') is None


def test_the_tally_sums_tokens_only_while_every_answer_carries_them() -> None:
    tally = Tally()
    tally.chunk(2, {"prompt_tokens": 3, "total_tokens": 4})
    tally.chunk(1, {"prompt_tokens": 5, "total_tokens": 6})
    assert tally.usage() == Usage(0, 2, 3, 0, 8, 10)
    tally.chunk(1, None)
    assert tally.usage() == Usage(0, 3, 4, 0, None, None)


def test_a_cache_hit_costs_no_tokens_and_keeps_the_sum() -> None:
    tally = Tally()
    tally.chunk(2, {"prompt_tokens": 3, "total_tokens": 4})
    tally.chunk(2, None, cached=True)
    assert tally.usage() == Usage(0, 2, 4, 1, 3, 4)


def test_only_cache_hits_report_no_tokens() -> None:
    tally = Tally()
    tally.chunk(2, None, cached=True)
    assert tally.usage() == Usage(0, 1, 2, 1, None, None)


# ---- through the clients, on the emulator


@pytest.fixture(scope="module")
def _servers() -> Iterator[dict[bool, tuple[str, Any]]]:
    with_usage = create_app(EmulatorConfig(include_usage=True))
    without = create_app(EmulatorConfig())
    with running_emulator(app=with_usage) as a, running_emulator(app=without) as b:
        yield {True: (a, with_usage.state.emulator), False: (b, without.state.emulator)}


@pytest.fixture(params=[True, False], ids=["include_usage", "no_usage"])
def served(request: pytest.FixtureRequest, _servers: dict[bool, tuple[str, Any]]) -> Any:
    base, state = _servers[request.param]
    state.clear_faults()
    state.reset()
    return request.param, base, state


def settings(base: str) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": base, "model": MODEL})


def emulator_tokens(base: str, chunks: list[list[str]]) -> int:
    """What the emulator says the chunks cost, asked directly: its answers' ``prompt_tokens``."""
    total = 0
    for chunk in chunks:
        body = {
            "model": MODEL,
            "query": {"text": "library"},
            "passages": [{"text": d} for d in chunk],
        }
        answer = httpx.post(base + "/v1/ranking", json=body)
        assert answer.status_code == 200
        total += answer.json()["usage"]["prompt_tokens"]
    return total


def expected_tokens(base: str, state: Any, include: bool) -> int | None:
    """``None`` without ``include_usage``; else the tokens of DOCUMENTS in chunks of 3."""
    if not include:
        return None
    tokens = emulator_tokens(base, [DOCUMENTS[:3], DOCUMENTS[3:]])
    state.reset()
    return tokens


def test_usage_counts_requests_chunks_passages_and_tokens(served: Any) -> None:
    include, base, state = served
    tokens = expected_tokens(base, state, include)
    state.add_fault("status=503,count=1,retry-after=0")
    with Client("k", endpoint="ranking", usage=True, retries=2, max_documents=3) as c:
        result = c.rank("library", DOCUMENTS, settings(base))
    usage = result.usage
    assert usage is not None
    assert (usage.requests, usage.chunks, usage.passages, usage.cache_hits) == (3, 2, 4, 0)
    assert len(state.requests) == 3
    assert usage.prompt_tokens == tokens
    assert usage.total_tokens == tokens
    if include:
        assert tokens is not None and tokens > 0


def test_async_usage_is_the_same(served: Any) -> None:
    include, base, state = served
    tokens = expected_tokens(base, state, include)
    state.add_fault("status=503,count=1,retry-after=0")

    async def main() -> Any:
        async with AsyncClient(
            "k", endpoint="ranking", usage=True, retries=2, max_documents=3
        ) as c:
            return await c.rank("library", DOCUMENTS, settings(base))

    usage = anyio.run(main).usage
    assert usage is not None
    assert (usage.requests, usage.chunks, usage.passages, usage.cache_hits) == (3, 2, 4, 0)
    assert (usage.prompt_tokens, usage.total_tokens) == (tokens, tokens)


def test_usage_as_a_class_setting(served: Any) -> None:
    _, base, _ = served
    with Client("k", endpoint="ranking") as c:
        cfg_ = ClassBasedModuleConfig.for_settings({"baseURL": base, "model": MODEL, "usage": True})
        result = c.rank("library", DOCUMENTS, cfg_)
    assert result.usage is not None and result.usage.requests == 1


def test_without_usage_the_result_has_none(served: Any) -> None:
    _, base, _ = served
    with Client("k", endpoint="ranking") as c:
        assert c.rank("library", DOCUMENTS, settings(base)).usage is None


# ---- through the clients, on a recorder: what the emulator cannot send


def _answer(count: int, usage: dict[str, int] | None) -> httpx.Response:
    body: dict[str, Any] = {"rankings": [{"index": i, "logit": 0.5} for i in range(count)]}
    if usage is not None:
        body["usage"] = usage
    return httpx.Response(200, json=body)


def test_one_chunk_without_tokens_makes_the_sums_none() -> None:
    recorder = Recorder(
        _answer(2, {"prompt_tokens": 4, "total_tokens": 5}),
        _answer(2, None),
    )
    with client(recorder, usage=True, max_documents=2, max_concurrency=1) as c:
        result = c.rank("q", ["a", "b", "c", "d"], cfg())
    assert result.usage == Usage(2, 2, 4, 0, None, None)


def test_tokens_are_summed_over_chunks() -> None:
    recorder = Recorder(
        _answer(2, {"prompt_tokens": 4, "total_tokens": 5}),
        _answer(1, {"prompt_tokens": 1, "total_tokens": 2}),
    )
    with client(recorder, usage=True, max_documents=2, max_concurrency=1) as c:
        result = c.rank("q", ["a", "b", "c"], cfg())
    assert result.usage == Usage(2, 2, 3, 0, 5, 7)


def test_a_failed_call_failing_open_still_reports_its_requests() -> None:
    recorder = Recorder(httpx.Response(500), httpx.Response(500))
    with client(recorder, usage=True, retries=1, on_error="input_order") as c:
        result = c.rank("q", ["a"], cfg())
    assert result.reranked is False
    assert result.usage == Usage(2, 0, 0, 0, None, None)


def test_a_failed_call_raises_as_before() -> None:
    recorder = Recorder(httpx.Response(500))
    with client(recorder, usage=True) as c, pytest.raises(UpstreamError):
        c.rank("q", ["a"], cfg())


def test_no_documents_costs_nothing() -> None:
    recorder = Recorder()
    with client(recorder, usage=True) as c:
        result = c.rank("q", [], cfg())
    assert result.usage == Usage(0, 0, 0, 0, None, None)
    assert recorder.requests == []
