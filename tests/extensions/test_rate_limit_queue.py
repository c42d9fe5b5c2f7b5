"""The limiter as a queue: starts in arrival order, spacing on the wire, the user's transport.

Before, late arrivals overtook early ones (so some waited past their timeout while a
first-come queue would have served everyone in time); a request that took long to reach the
wire went out next to the one after it; and with a transport of the user's own, a call whose
turn came after its deadline was sent anyway.
"""

from __future__ import annotations

import itertools
import threading
import time

import anyio
import httpx
import pytest

from reranker_nvidia import AsyncClient
from reranker_nvidia.clients._sending import Post
from reranker_nvidia.errors import DeadlineExceededError
from reranker_nvidia.extensions.rate_limit import SEND_WAIT_S, RateLimiter
from reranker_nvidia.modulecomponents._deadline import deadline_scope
from tests.extensions._support import BASE, Recorder, cfg, client
from tests.support.fakes import FakeTime
from tests.support.flows import DrivenLimiter, run_flow

# ---- arrival order ----------------------------------------------------------------------------


def interleaved(limiter: RateLimiter, fake: FakeTime, arrivals: list[float]) -> list[int]:
    """Callers arriving at ``arrivals`` (one flow each, stepped on one fake clock): the order
    in which they start."""
    flows = {i: limiter.turn() for i in range(len(arrivals))}
    wake: dict[int, float] = dict(enumerate(arrivals))
    started: list[int] = []
    while wake:
        # The next to wake; of callers due at once, the newest: the OS may wake them in any order.
        i = min(wake, key=lambda k: (wake[k], -k))
        fake.now = max(fake.now, wake.pop(i))
        try:
            pause = next(flows[i])
        except StopIteration:
            started.append(i)
        else:
            wake[i] = fake.now + pause.seconds
    return started


def test_callers_start_in_the_order_they_arrived() -> None:
    # Caller 0 takes the first start; 1..5 arrive in turn while it holds the interval. With
    # the old limiter each woke after its own pause and the first one back won, so a caller
    # that arrived last (and paused least) could go first.
    fake = FakeTime(now=100.0)
    limiter = RateLimiter(60, clock=fake.clock)  # one a second
    arrivals = [100.0, 100.1, 100.35, 100.5, 100.9, 100.95]
    assert interleaved(limiter, fake, arrivals) == [0, 1, 2, 3, 4, 5]
    assert fake.now == pytest.approx(105.0)


def test_each_caller_starts_one_interval_after_the_one_before() -> None:
    fake = FakeTime(now=0.0)
    limiter = RateLimiter(600, clock=fake.clock)  # 100 ms
    starts: list[float] = []
    flows = [limiter.turn() for _ in range(4)]
    pending = list(range(4))
    for i in pending:  # all four arrive at 0
        try:
            next(flows[i])
        except StopIteration as done:
            starts.append(done.value)
    while len(starts) < 4:
        fake.now += 0.001
        for i in range(len(starts), 4):
            try:
                flows[i].send(None)
            except StopIteration as done:
                starts.append(done.value)
    assert starts == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=0.0011)


def test_a_caller_that_gives_up_leaves_its_place_to_the_next() -> None:
    fake = FakeTime(now=0.0)
    limiter = RateLimiter(60, clock=fake.clock)
    first, second, third = limiter.turn(), limiter.turn(), limiter.turn()
    with pytest.raises(StopIteration):
        next(first)
    next(second)
    next(third)
    second.close()  # cancelled while waiting (Ctrl-C, a task cancelled)
    fake.now = 1.0
    with pytest.raises(StopIteration) as done:
        third.send(None)
    assert done.value.value == 1.0


def test_a_turn_past_the_deadline_takes_no_place_in_the_queue() -> None:
    fake = FakeTime(now=0.0)
    limit = DrivenLimiter(RateLimiter(60, clock=fake.clock), fake.sleep, fake.asleep)
    limit.acquire()
    limit.acquire()  # at 1.0; the next is due at 2.0
    with deadline_scope(1.5):
        assert limit.acquire() is None
    assert fake.now == 1.5
    assert limit.acquire() == 2.0


def test_real_threads_are_served_in_arrival_order() -> None:
    limiter = RateLimiter(1200)  # 50 ms
    driven = DrivenLimiter(limiter)
    driven.acquire()  # the next start is 50 ms away: the others queue
    order: list[int] = []
    lock = threading.Lock()

    def caller(i: int) -> None:
        driven.acquire()
        with lock:
            order.append(i)

    threads = []
    for i in range(8):
        thread = threading.Thread(target=caller, args=(i,))
        thread.start()
        threads.append(thread)
        while limiter._issued < i + 2:  # the next arrives once this one holds its ticket
            time.sleep(0.0005)
    for thread in threads:
        thread.join()
    assert order == list(range(8))


# ---- on the wire ------------------------------------------------------------------------------


def hook(limiter: RateLimiter, fake: FakeTime, url: str = f"{BASE}/v1/ranking") -> Post:
    """One request through the limiter's hook, driven on the fake clock: the Post to send."""
    post = run_flow(limiter.before_each_post(Post(url, {}, b"{}")), sleep=fake.sleep)
    assert isinstance(post, Post)
    return post


def reporting(fake: FakeTime, rpm: float = 600) -> RateLimiter:
    """A limiter whose transport has reported a send (httpcore's do): a request at 9.0."""
    limiter = RateLimiter(rpm, clock=fake.clock)
    fake.now -= 1.0
    post = hook(limiter, fake)
    assert post.on_sent is not None
    post.on_sent()
    fake.now += 1.0
    return limiter


def test_the_next_start_waits_for_the_last_request_to_reach_the_wire() -> None:
    fake = FakeTime(now=10.0)
    limiter = reporting(fake)  # 100 ms
    first = hook(limiter, fake)
    assert first.on_sent is not None
    fired: list[float] = []

    def dial_then_send(seconds: float) -> None:
        fake.sleep(seconds)
        if not fired and fake.now >= 10.25:  # the first request's connection took 250 ms
            fired.append(fake.now)
            first.on_sent()  # type: ignore[misc]

    second = run_flow(limiter.before_each_post(Post(BASE, {}, b"")), sleep=dial_then_send)
    assert fired == [pytest.approx(10.25, abs=0.003)]
    # The second waited for the first's headers and started 100 ms after them, not at 10.1.
    assert fake.now == pytest.approx(10.35, abs=0.003)
    del second


def test_a_send_never_reported_holds_the_next_for_at_most_the_send_wait() -> None:
    fake = FakeTime(now=10.0)
    limiter = reporting(fake)
    first = hook(limiter, fake)  # refused, say: its headers never go out
    hook(limiter, fake)
    assert fake.now == pytest.approx(10.1 + SEND_WAIT_S, abs=0.003)
    del first


def test_a_transport_that_reports_no_send_is_spaced_by_the_starts() -> None:
    # httpx.MockTransport reports nothing and sends when called: no send is waited for.
    fake = FakeTime(now=10.0)
    limiter = RateLimiter(600, clock=fake.clock)
    kept = [hook(limiter, fake) for _ in range(3)]  # a recorder keeps every request
    assert fake.now == pytest.approx(10.2)
    del kept


# ---- a transport of the user's own ------------------------------------------------------------


def test_a_turn_past_the_deadline_is_not_sent_through_a_mock_transport() -> None:
    recorder = Recorder()
    with client(recorder, timeout=0.5, retries=1, requests_per_minute=6) as c:  # 10 s apart
        c.rank("q", ["a"], cfg())
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught:
            c.rank("q", ["b"], cfg())
        waited = time.monotonic() - started
    assert len(recorder.requests) == 1  # before: 2, the second sent with no start claimed
    assert str(caught.value) == (
        f'send POST request: Post "{BASE}/v1/retrieval/nvidia/reranking": context deadline exceeded'
    )
    assert waited < 1.5


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_a_turn_past_the_deadline_is_not_sent_either(anyio_backend: str) -> None:
    recorder = Recorder()
    transport = httpx.MockTransport(recorder)
    async with AsyncClient(
        "k", timeout=0.5, retries=1, requests_per_minute=6, transport=transport
    ) as c:
        await c.rank("q", ["a"], cfg())
        with anyio.fail_after(5), pytest.raises(DeadlineExceededError):
            await c.rank("q", ["b"], cfg())
    assert len(recorder.requests) == 1


def test_through_a_mock_transport_starts_stay_spaced_under_threads() -> None:
    recorder = Recorder()
    with client(recorder, requests_per_minute=1200, max_documents=1, max_concurrency=4) as c:
        threads = [threading.Thread(target=c.rank, args=("q", ["a", "b"], cfg())) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    times = sorted(recorder.times)
    assert len(times) == 8
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.05 - 0.005
