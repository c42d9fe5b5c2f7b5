"""The sync client keeps its chunk workers: one pool per client, reused, closed by ``close()``."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from reranker_nvidia import NAME, ClassBasedModuleConfig, Client
from reranker_nvidia.clients import _chunk_workers
from reranker_nvidia.clients._chunk_workers import WorkerPool, pool_of, run_jobs

CFG = ClassBasedModuleConfig.for_settings(NAME, {"baseURL": "http://nim.test"})


def answer(request: httpx.Request) -> httpx.Response:
    passages = json.loads(request.content)["passages"]
    time.sleep(0.01)  # long enough for the chunks to overlap
    rankings = [{"index": i, "logit": float(i)} for i in range(len(passages))]
    return httpx.Response(200, json={"rankings": rankings})


def workers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(f"{NAME}_")}


def test_calls_reuse_the_clients_threads_and_close_ends_them() -> None:
    before = workers()
    client = Client("k", max_concurrency=4, max_documents=3, transport=httpx.MockTransport(answer))
    documents = [f"doc {i}" for i in range(8 * 3)]  # 8 chunks, 4 at a time
    first = client.rank("q", documents, CFG)
    started = workers() - before
    assert 1 < len(started) <= 4
    for _ in range(3):
        again = client.rank("q", documents, CFG)
        assert [s.score for s in again.document_scores] == [s.score for s in first.document_scores]
    assert workers() - before == started  # no new thread for the later calls
    client.close()
    deadline = time.monotonic() + 5
    while workers() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not workers() - before


def test_calls_from_many_threads_do_not_wait_for_each_other() -> None:
    pool = WorkerPool("test-pool")
    gate = threading.Barrier(6, timeout=5)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            run_jobs(2, 2, lambda i: gate.wait(), "test-pool", pool)
        except BaseException as err:  # noqa: BLE001 - checked below
            errors.append(err)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(10)
    assert errors == []  # all six jobs were in flight at once, or the barrier broke
    pool.close()
    assert pool.idle_threads() == 0


def test_the_first_failure_is_raised_and_the_pool_still_serves() -> None:
    pool = WorkerPool("test-pool")
    ran: list[int] = []

    def job(i: int) -> None:
        ran.append(i)
        if i == 1:
            raise ValueError("chunk 1")

    with pytest.raises(ValueError, match="chunk 1"):
        run_jobs(6, 1, job, "test-pool", pool)
    assert ran == [0, 1]  # nothing starts after the failure
    run_jobs(3, 2, lambda i: ran.append(10 + i), "test-pool", pool)
    assert sorted(ran[2:]) == [10, 11, 12]
    pool.close()


def test_an_idle_thread_ends_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_chunk_workers, "IDLE_SECONDS", 0.05)
    pool = WorkerPool("test-idle")
    run_jobs(2, 2, lambda i: None, "test-idle", pool)
    deadline = time.monotonic() + 5
    while pool.idle_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.idle_threads() == 0


def test_one_pool_per_client() -> None:
    one = Client("k", transport=httpx.MockTransport(answer))
    two = Client("k", transport=httpx.MockTransport(answer))
    assert pool_of(one, NAME) is pool_of(one, NAME)
    assert pool_of(one, NAME) is not pool_of(two, NAME)
    one.close()
    two.close()
