"""With ``requestsPerMinute`` on, no two request starts are closer than 60/N seconds.

First on the limiter alone, from many threads at once, with the starts it
claims on its own clock; then through a real client on the emulator, with the
arrival times read from the emulator's request log.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia.extensions.rate_limit import RateLimiter
from tests.property._support import PROPERTY
from tests.support.flows import DrivenLimiter


class RecordingClock:
    """``time.monotonic`` that keeps every reading, to check what the limiter saw."""

    def __init__(self) -> None:
        import time

        self._monotonic = time.monotonic
        self.readings: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        now = self._monotonic()
        with self._lock:
            self.readings.append(now)
        return now


@settings(PROPERTY, max_examples=8)
@given(
    rpm=st.sampled_from([6000.0, 12000.0, 20000.0]),
    threads=st.integers(min_value=2, max_value=12),
    each=st.integers(min_value=1, max_value=4),
)
def test_many_threads_never_start_closer_than_the_interval(
    rpm: float, threads: int, each: int
) -> None:
    clock = RecordingClock()
    limiter = DrivenLimiter(RateLimiter(rpm, clock=clock))
    starts: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker() -> None:
        barrier.wait()  # all at once
        for _ in range(each):
            start = limiter.acquire()
            assert start is not None
            with lock:
                starts.append(start)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert len(starts) == threads * each
    assert set(starts) <= set(clock.readings)  # every start is a time the clock gave
    starts.sort()
    interval = 60.0 / rpm
    assert all(b - a >= interval for a, b in itertools.pairwise(starts))


emulator = pytest.importorskip("nim_emulator")


@pytest.fixture
def served() -> Iterator[tuple[str, Any]]:
    app = emulator.create_app(emulator.EmulatorConfig(api_key="k"))
    with emulator.running_emulator(app=app) as base_url:
        yield base_url, app.state.emulator


def test_a_client_on_the_emulator_spaces_its_chunks(served: tuple[str, Any]) -> None:
    from reranker_nvidia import ClassBasedModuleConfig, Client

    base_url, state = served
    rpm = 600.0  # 100 ms
    interval = 60.0 / rpm
    plain = ClassBasedModuleConfig.for_settings({"baseURL": base_url})
    limited = ClassBasedModuleConfig.for_settings({"baseURL": base_url, "requestsPerMinute": rpm})
    documents = [f"document {i}" for i in range(6)]
    with Client("k", 20, max_documents=1, max_concurrency=3) as client:
        client.rank("query", documents[:3], plain)  # open the pool's connections first
        state.reset()
        client.rank("query", documents, limited)
        threads = [
            threading.Thread(target=client.rank, args=("query", documents[:2], limited))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    arrivals = sorted(record.received_at for record in state.requests)
    assert len(arrivals) == 6 + 3 * 2
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # An arrival is stamped by the server, after the network and its event loop: allow each
    # gap some shrinking, but the requests as a whole must take the limiter's time.
    assert min(gaps) >= 0.6 * interval, gaps
    assert arrivals[-1] - arrivals[0] >= 0.95 * interval * (len(arrivals) - 1), gaps
