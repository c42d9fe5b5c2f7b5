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


@settings(PROPERTY, max_examples=60)
@given(
    rpm=st.sampled_from([6.0, 60.0, 600.0, 6000.0]),
    arrivals=st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=2, max_size=12),
    newest_first=st.booleans(),
)
def test_callers_start_in_arrival_order_one_interval_apart(
    rpm: float, arrivals: list[float], newest_first: bool
) -> None:
    """On a fake clock, callers arriving at any times, woken in either order when due at
    once, start in the order they arrived, never closer than the interval, and none waits
    longer than the callers ahead of it need."""
    from tests.support.fakes import FakeTime

    fake = FakeTime(now=0.0)
    limiter = RateLimiter(rpm, clock=fake.clock)
    interval = 60.0 / rpm
    order = sorted(range(len(arrivals)), key=lambda i: (arrivals[i], i))
    flows: dict[int, Any] = {}
    wake = {i: arrivals[i] for i in order}
    arrived: set[int] = set()
    starts: dict[int, float] = {}
    while wake:
        due = min(wake.values())
        ready = [i for i in wake if wake[i] == due]
        # Callers due at once arrive (take their tickets) in arrival order; others wake in
        # either order.
        fresh = [i for i in order if i in ready and i not in arrived]
        woken = sorted((i for i in ready if i in arrived), reverse=newest_first)
        i = (fresh or woken)[0]
        fake.now = max(fake.now, wake.pop(i))
        if i not in arrived:
            arrived.add(i)
            flows[i] = limiter.turn()
        try:
            pause = next(flows[i])
        except StopIteration as done:
            starts[i] = done.value
        else:
            wake[i] = fake.now + pause.seconds
    by_start = sorted(starts, key=lambda i: starts[i])
    assert by_start == order
    times = [starts[i] for i in by_start]
    assert all(b - a >= interval - 1e-9 for a, b in itertools.pairwise(times))
    # A first-come queue's schedule: each starts at its arrival or one interval after the
    # one before, whichever is later (a waiter re-checks at least every 50 ms or interval).
    expected = -float("inf")
    for i in by_start:
        expected = max(arrivals[i], expected + interval)
        assert starts[i] <= expected + max(interval, 0.05) + 1e-9
