"""The client-side limiter: starts at least 60/N seconds apart, shared by threads and tasks."""

from __future__ import annotations

import itertools
import math
import threading
from typing import Any

import anyio
import httpx
import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator
from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import ConfigError
from reranker_nvidia.extensions.rate_limit import RateLimiter, RateLimiters
from reranker_nvidia.modulecomponents._deadline import deadline_scope
from tests.extensions._support import Recorder, cfg, client
from tests.support.fakes import FakeTime
from tests.support.flows import DrivenLimiter


def limiter(rpm: float, fake: FakeTime) -> DrivenLimiter:
    return DrivenLimiter(RateLimiter(rpm, clock=fake.clock), fake.sleep, fake.asleep)


def test_the_first_request_starts_at_once_and_the_next_waits_the_interval() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(60, fake)  # one a second
    starts = []
    for _ in range(4):
        starts.append(limit.acquire())
        assert starts[-1] == fake.now
    assert starts == [50.0, 51.0, 52.0, 53.0]
    assert limit.interval == 1.0


def test_time_already_passed_counts() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(30, fake)  # one every 2 s
    limit.acquire()
    fake.now += 1.5
    limit.acquire()
    assert fake.sleeps == [pytest.approx(0.5)]
    fake.now += 10
    limit.acquire()
    assert fake.sleeps == [pytest.approx(0.5)]


def test_tasks_and_threads_share_one_state() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(120, fake)
    limit.acquire()

    async def task() -> float:
        await limit.aacquire()
        return fake.now

    assert anyio.run(task) == pytest.approx(50.5)
    limit.acquire()
    assert fake.now == pytest.approx(51.0)


def test_a_turn_after_the_deadline_waits_only_until_the_deadline() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(6, fake)  # one every 10 s
    limit.acquire()
    with deadline_scope(53.0):
        assert limit.acquire() is None
    assert fake.sleeps == [pytest.approx(3.0)]
    # That caller took no turn: the next one still starts 10 s after the first.
    limit.acquire()
    assert fake.now == pytest.approx(60.0)


def test_real_threads_never_start_closer_than_the_interval() -> None:
    limit = DrivenLimiter(RateLimiter(6000))  # 10 ms
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            start = limit.acquire()
            assert start is not None
            with lock:
                starts.append(start)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 24
    assert min(gaps) >= 0.010


@pytest.mark.parametrize("tiny", [1e-300, 5e-324, 1e-9, 0.000999])
def test_a_rate_too_small_to_wait_for_is_refused_before_any_request(tiny: float) -> None:
    # Before: accepted, and the second request raised an untyped OverflowError (time.sleep).
    shown = f"{tiny!r}"
    with pytest.raises(ConfigError) as caught:
        client(Recorder(), requests_per_minute=tiny)
    assert str(caught.value) == (
        f"requests_per_minute must be at least 0.001 (one request in 1000 minutes), not {shown}"
    )
    recorder = Recorder()
    with client(recorder) as c, pytest.raises(ConfigError, match="requestsPerMinute must be at"):
        c.rank("q", ["a", "b"], cfg(requestsPerMinute=tiny))
    assert recorder.requests == []
    with pytest.raises(ConfigError, match=r"at least 0\.001"):
        RateLimiter(tiny)


def test_the_smallest_rate_is_taken() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(0.001, fake)
    assert limit.interval == pytest.approx(60_000.0)
    limit.acquire()
    limit.acquire()
    assert fake.now == pytest.approx(60_050.0)
    assert max(fake.sleeps) <= 60_000.0


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, True, "10"])
def test_a_bad_rate_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="requests_per_minute must be a number greater than 0"):
        RateLimiter(bad)  # type: ignore[arg-type]


def test_one_limiter_per_rate() -> None:
    limiters = RateLimiters()
    first = limiters.get(40)
    assert limiters.get(40.0) is first
    assert limiters.get(60) is not first
    assert limiters.get(60).requests_per_minute == 60.0
    assert repr(first) == "RateLimiter(requests_per_minute=40)"


def test_a_request_that_reaches_the_wire_late_moves_the_next_turn() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(60, fake)
    assert limit.acquire() == 50.0
    fake.now += 0.25  # the first connection took a while to dial
    limit.trace("connection.connect_tcp.started", {})
    assert limit.next_start == 51.0  # only the headers going out count
    limit.trace("http11.send_request_headers.started", {})
    assert limit.acquire() == pytest.approx(51.25)


def test_mark_sent_never_brings_the_next_turn_closer() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(60, fake)
    limit.acquire()
    limit.acquire()  # claims 51.0, the next at 52.0
    fake.now = 50.5
    limit.mark_sent()
    assert limit.next_start == 52.0


def test_the_async_trace_marks_too() -> None:
    fake = FakeTime(now=50.0)
    limit = limiter(60, fake)
    limit.acquire()
    fake.now += 0.5

    async def main() -> None:
        await limit.atrace("http2.send_request_headers.started", {})

    anyio.run(main)
    assert limit.next_start == pytest.approx(51.5)


def test_the_trace_on_a_real_request_marks_the_start(http_server: Any) -> None:
    import httpx

    server = http_server(lambda request, w: w.respond(200, b"ok"))
    limit = DrivenLimiter(RateLimiter(60))
    limit.acquire()
    before = limit.next_start
    with httpx.Client() as http:
        http.get(server.url, extensions={"trace": limit.trace})
    assert limit.next_start > before


# ---- through the clients ---------------------------------------------------------------------


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(sorted(times))]


def test_requests_per_minute_spaces_every_chunk_across_threads() -> None:
    recorder = Recorder()
    with client(recorder, requests_per_minute=600, max_documents=1, max_concurrency=4) as c:
        c.rank("q", ["a", "b", "c", "d"], cfg())
    assert len(recorder.times) == 4
    assert min(gaps(recorder.times)) >= 0.1 - 0.005


def test_one_limiter_is_shared_by_calls_from_many_threads() -> None:
    recorder = Recorder()
    with client(recorder, requests_per_minute=1200) as c:
        threads = [threading.Thread(target=c.rank, args=("q", ["a"], cfg())) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(recorder.times) == 5
    assert min(gaps(recorder.times)) >= 0.05 - 0.005


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_limiter_from_a_class_setting(anyio_backend: str) -> None:
    recorder = Recorder()
    async with AsyncClient("k", transport=httpx.MockTransport(recorder), max_documents=1) as c:
        await c.rank("q", ["a", "b", "c"], cfg(requestsPerMinute=1200))
    assert len(recorder.times) == 3
    assert min(gaps(recorder.times)) >= 0.05 - 0.005


def test_on_the_emulator_the_limiter_spaces_request_starts() -> None:
    app = create_app(EmulatorConfig(api_key="test-key"))
    with running_emulator(app=app) as base:
        settings = ClassBasedModuleConfig.for_settings({"baseURL": base, "requestsPerMinute": 600})
        with Client("test-key", max_documents=1, max_concurrency=1) as c:
            c.rank("q", ["a", "b", "c", "d"], settings)
        arrived = [r.received_at for r in app.state.emulator.requests]
    assert len(arrived) == 4
    # The limiter spaces the starts; the first request also opens the connection, so it
    # arrives later than it started: the gaps are measured from the second arrival on.
    assert min(gaps(arrived[1:])) >= 0.1 - 0.01
