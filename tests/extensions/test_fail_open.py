"""Fail open, with a signal: ``on_error="input_order"`` against the emulator (D-EXT-FAIL-OPEN).

A service failure (a status, a dropped connection, a failing chunk, retries used up) gives
the documents in their input order, unscored, ``reranked`` false, ``error`` the typed error,
and exactly one WARNING on the ``reranker_nvidia`` logger. The caller's mistakes, Ctrl-C and
cancellation are raised as before, and Go's default (raise) is untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import pytest

from nim_emulator import EmulatorConfig, FaultSpec, create_app, running_emulator
from nim_emulator.models import EmulatorState
from reranker_nvidia import (
    AsyncClient,
    AsyncReRankerProvider,
    ClassBasedModuleConfig,
    Client,
    ConfigError,
    Params,
    ParamsError,
    Passage,
    ReRankerProvider,
    SearchResult,
)
from reranker_nvidia.errors import (
    ClientRankError,
    MissingAPIKeyError,
    TransportError,
    UpstreamError,
)
from reranker_nvidia.extensions.ranked import ranked
from reranker_nvidia.modulecomponents.ent.rank_result import RankResult

KEY = "test-key"
DOCUMENTS = ["Cafeteria 8-8.", "Library hours 9-5.", "Gym 6-10.", "library opening hours"]
QUERY = "library hours"
WARNING_500 = (
    "reranking failed, documents kept in their input order: "
    "connection to NVIDIA API failed with status: 500"
)


@contextmanager
def emulator(*faults: str) -> Iterator[tuple[str, EmulatorState]]:
    app = create_app(EmulatorConfig(api_key=KEY, faults=[FaultSpec.parse(f) for f in faults]))
    with running_emulator(app=app) as base:
        yield base, app.state.emulator


def cfg(base: str, **settings: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": base, **settings})


def rank_sync(base: str, documents: list[Any], settings: dict[str, Any], **kw: Any) -> RankResult:
    with Client(KEY, **kw) as c:
        return c.rank(QUERY, documents, cfg(base, **settings))


def rank_async(base: str, documents: list[Any], settings: dict[str, Any], **kw: Any) -> RankResult:
    async def main() -> RankResult:
        async with AsyncClient(KEY, **kw) as c:
            return await c.rank(QUERY, documents, cfg(base, **settings))

    return anyio.run(main)


RANKERS = pytest.mark.parametrize("rank", [rank_sync, rank_async], ids=["sync", "async"])
Rank = Callable[..., RankResult]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "reranker_nvidia" and r.levelno >= logging.WARNING
    ]


def assert_not_reranked(result: RankResult, documents: list[str]) -> None:
    assert result.reranked is False
    assert [s.document for s in result.document_scores] == documents
    assert [s.score for s in result.document_scores] == [None] * len(documents)
    assert [row.index for row in ranked(result)] == list(range(len(documents)))


# ---- a service failure is a result -----------------------------------------------------


@RANKERS
def test_a_500_gives_the_input_order_unscored_and_one_warning(
    rank: Rank, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reranker_nvidia")
    with emulator("status=500") as (base, _):
        result = rank(base, DOCUMENTS, {}, on_error="input_order")
    assert_not_reranked(result, DOCUMENTS)
    assert isinstance(result.error, UpstreamError)
    assert result.error.status == 500
    assert [r.getMessage() for r in warnings_of(caplog)] == [WARNING_500]


@RANKERS
def test_a_dropped_connection_fails_open_with_the_transport_error(
    rank: Rank, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reranker_nvidia")
    with emulator("drop") as (base, _):
        result = rank(base, DOCUMENTS, {"onError": "input_order"})
    assert_not_reranked(result, DOCUMENTS)
    assert isinstance(result.error, TransportError)
    (record,) = warnings_of(caplog)
    line = str(result.error).splitlines()[0]
    assert record.getMessage() == f"reranking failed, documents kept in their input order: {line}"


@RANKERS
def test_one_failing_chunk_fails_the_whole_call_open(rank: Rank) -> None:
    documents = [f"passage {i}" for i in range(7)]
    with emulator("status=502,after=1,count=1") as (base, _):
        result = rank(
            base, documents, {"maxDocuments": 2, "maxConcurrency": 1}, on_error="input_order"
        )
    assert_not_reranked(result, documents)
    assert isinstance(result.error, UpstreamError)
    assert result.error.status == 502


@RANKERS
def test_by_default_the_error_is_raised_as_go_does(
    rank: Rank, caplog: pytest.LogCaptureFixture
) -> None:
    with emulator("status=500") as (base, _), pytest.raises(UpstreamError, match="status: 500"):
        rank(base, DOCUMENTS, {})
    assert warnings_of(caplog) == []


@RANKERS
def test_a_call_that_succeeds_is_reranked_and_logs_nothing(
    rank: Rank, caplog: pytest.LogCaptureFixture
) -> None:
    with emulator() as (base, _):
        result = rank(base, DOCUMENTS, {}, on_error="input_order")
    assert result.reranked is True
    assert result.error is None
    assert all(isinstance(s.score, float) for s in result.document_scores)
    assert warnings_of(caplog) == []


@RANKERS
def test_the_class_setting_wins_over_the_keyword(rank: Rank) -> None:
    with emulator("status=500") as (base, _):
        opened = rank(base, DOCUMENTS, {"onError": "input_order"}, on_error="raise")
        assert opened.reranked is False
        with pytest.raises(UpstreamError):
            rank(base, DOCUMENTS, {"onError": "raise"}, on_error="input_order")


# ---- with retries: open only once they are used up ---------------------------------------


@RANKERS
def test_with_retries_it_fails_open_only_after_the_last_attempt(rank: Rank) -> None:
    with emulator("status=503,retry-after=0") as (base, state):
        result = rank(base, DOCUMENTS, {"retries": 2}, on_error="input_order")
        sent = [r for r in state.requests if r.path.endswith("/reranking")]
    assert result.reranked is False
    assert len(sent) == 3


@RANKERS
def test_a_failure_the_retries_overcome_is_a_reranked_result(rank: Rank) -> None:
    with emulator("status=503,count=1,retry-after=0") as (base, state):
        result = rank(base, DOCUMENTS, {"retries": 1}, on_error="input_order")
        sent = [r for r in state.requests if r.path.endswith("/reranking")]
    assert result.reranked is True
    assert len(sent) == 2


# ---- the caller's mistakes still raise ---------------------------------------------------


@RANKERS
def test_a_bad_setting_still_raises(rank: Rank) -> None:
    with emulator() as (base, state):
        with pytest.raises(ConfigError, match="retries"):
            rank(base, DOCUMENTS, {"retries": -1}, on_error="input_order")
        assert state.requests == []


@RANKERS
def test_a_bad_passage_still_raises(rank: Rank) -> None:
    with emulator() as (base, state):
        with pytest.raises(ConfigError):
            rank(
                base,
                [Passage(image="data:image/png;base64,bm90IGEgcG5n")],
                {},
                on_error="input_order",
            )
        assert state.requests == []


@RANKERS
def test_documents_that_are_not_documents_still_raise_type_error(rank: Rank) -> None:
    with emulator() as (base, _), pytest.raises(TypeError):
        rank(base, [b"bytes"], {}, on_error="input_order")


@RANKERS
def test_no_api_key_still_raises(rank: Rank, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NVIDIA_APIKEY", raising=False)

    def keyless(base: str, documents: list[str]) -> RankResult:
        if rank is rank_sync:
            with Client(None, on_error="input_order") as c:
                return c.rank(QUERY, documents, cfg(base))

        async def main() -> RankResult:
            async with AsyncClient(None, on_error="input_order") as c:
                return await c.rank(QUERY, documents, cfg(base))

        return anyio.run(main)

    with emulator() as (base, state):
        with pytest.raises(MissingAPIKeyError):
            keyless(base, DOCUMENTS)
        assert state.requests == []


def test_an_unknown_on_error_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"on_error must be one of \[raise input_order\]"):
        Client(KEY, on_error="ignore")


def test_bad_rerank_arguments_still_raise_params_error() -> None:
    results = [SearchResult(schema={"text": t}) for t in DOCUMENTS]
    with (
        emulator("status=500") as (base, _),
        Client(KEY, on_error="input_order") as c,
        pytest.raises(ParamsError, match="no properties provided"),
    ):
        ReRankerProvider(c).additional_property_fn(
            results, Params(query=QUERY), None, None, cfg(base)
        )


# ---- Ctrl-C and cancellation --------------------------------------------------------------


def test_ctrl_c_still_propagates(caplog: pytest.LogCaptureFixture) -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    c = Client(KEY, on_error="input_order", transport=httpx.MockTransport(interrupted))
    with c, pytest.raises(KeyboardInterrupt):
        c.rank(QUERY, DOCUMENTS, cfg("http://nim.test"))
    assert warnings_of(caplog) == []


def test_cancellation_still_propagates(caplog: pytest.LogCaptureFixture) -> None:
    returned: list[RankResult] = []

    async def main() -> bool:
        async with AsyncClient(KEY, on_error="input_order") as c:
            with anyio.move_on_after(0.2) as scope:
                returned.append(await c.rank(QUERY, DOCUMENTS, cfg(base)))
            return scope.cancelled_caught

    with emulator("latency=3000") as (base, _):
        assert anyio.run(main) is True
    assert returned == []
    assert warnings_of(caplog) == []


# ---- the rerank property: the search order, no rerank entry ------------------------------


def _results() -> list[SearchResult]:
    return [
        SearchResult(schema={"text": t}, additional_properties={"distance": i})
        for i, t in enumerate(DOCUMENTS)
    ]


def _rerank_sync(base: str, results: list[SearchResult], **kw: Any) -> list[SearchResult]:
    with Client(KEY, **kw) as c:
        return ReRankerProvider(c).additional_property_fn(
            results, Params(property="text", query=QUERY), None, None, cfg(base)
        )


def _rerank_async(base: str, results: list[SearchResult], **kw: Any) -> list[SearchResult]:
    async def main() -> list[SearchResult]:
        async with AsyncClient(KEY, **kw) as c:
            call: Awaitable[list[SearchResult]] = AsyncReRankerProvider(
                c
            ).additional_property_fn_async(
                results, Params(property="text", query=QUERY), None, None, cfg(base)
            )
            return await call

    return anyio.run(main)


@pytest.mark.parametrize("rerank", [_rerank_sync, _rerank_async], ids=["sync", "async"])
def test_the_rerank_property_keeps_the_search_order_without_a_rerank_entry(
    rerank: Callable[..., list[SearchResult]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reranker_nvidia")
    results = _results()
    with emulator("status=500") as (base, _):
        out = rerank(base, results, on_error="input_order")
    assert [r.object().properties["text"] for r in out] == DOCUMENTS
    assert all("rerank" not in (r.additional_properties or {}) for r in out)
    assert [(r.additional_properties or {}).get("distance") for r in out] == [0, 1, 2, 3]
    assert [r.getMessage() for r in warnings_of(caplog)] == [WARNING_500]


@pytest.mark.parametrize("rerank", [_rerank_sync, _rerank_async], ids=["sync", "async"])
def test_the_rerank_property_without_fail_open_raises_as_go_does(
    rerank: Callable[..., list[SearchResult]],
) -> None:
    with emulator("status=500") as (base, _), pytest.raises(ClientRankError, match="client rank: "):
        rerank(base, _results())
