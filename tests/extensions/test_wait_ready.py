"""Waiting on /v1/health/ready: until a 200, or one line saying it was not ready in time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest

from reranker_nvidia import AsyncClient, Client
from reranker_nvidia.errors import ConfigError, TransportError
from reranker_nvidia.extensions.wait_ready import ready_flow, ready_url
from reranker_nvidia.modulecomponents._deadline import current_deadline
from tests.extensions._support import BASE, Recorder, cfg, client
from tests.support.fakes import FakeTime
from tests.support.flows import arun_flow, run_flow


def wait_until_ready(
    http: httpx.Client,
    base_url: str,
    seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """The wait, driven as ``Client`` drives it."""
    run_flow(ready_flow(base_url, seconds, clock=clock), sleep=sleep, http=http)


async def await_until_ready(
    http: httpx.AsyncClient,
    base_url: str,
    seconds: float,
    *,
    asleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """The wait, driven as ``AsyncClient`` drives it."""
    await arun_flow(ready_flow(base_url, seconds, clock=clock), asleep=asleep, http=http)


def answers(*statuses: int) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        return httpx.Response(status, json={"status": "ok" if status == 200 else "loading"})

    return httpx.MockTransport(handler), seen


def test_the_url() -> None:
    assert ready_url("http://nim:8000") == "http://nim:8000/v1/health/ready"
    assert ready_url("http://nim:8000//") == "http://nim:8000/v1/health/ready"
    assert ready_url("http://h/prefix/") == "http://h/prefix/v1/health/ready"


def test_polls_until_ready() -> None:
    fake = FakeTime()
    transport, seen = answers(503, 503, 503, 200)
    with httpx.Client(transport=transport) as http:
        wait_until_ready(http, "http://nim:8000/", 30, sleep=fake.sleep, clock=fake.clock)
    assert len(seen) == 4
    assert {(r.method, str(r.url)) for r in seen} == {("GET", "http://nim:8000/v1/health/ready")}
    assert all("authorization" not in r.headers for r in seen)
    assert fake.sleeps == [0.1, 0.2, 0.4]


def test_ready_at_once_sends_one_request_and_waits_not() -> None:
    fake = FakeTime()
    transport, seen = answers(200)
    with httpx.Client(transport=transport) as http:
        wait_until_ready(http, "http://nim", 5, sleep=fake.sleep, clock=fake.clock)
    assert (len(seen), fake.sleeps) == (1, [])


def test_not_ready_in_time_is_one_transport_error_line() -> None:
    fake = FakeTime()
    transport, seen = answers(503)
    with (
        httpx.Client(transport=transport) as http,
        pytest.raises(TransportError) as caught,
    ):
        wait_until_ready(http, "http://nim:8000", 3, sleep=fake.sleep, clock=fake.clock)
    assert str(caught.value) == (
        'NIM not ready after 3 s: Get "http://nim:8000/v1/health/ready" last answered status 503'
    )
    assert fake.now == pytest.approx(3.0)  # the polls stop at the time given, not later
    assert max(fake.sleeps) == 1.0
    assert len(seen) == len(fake.sleeps) + 1


def test_a_connection_refused_is_polled_and_reported() -> None:
    fake = FakeTime()

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    with (
        httpx.Client(transport=httpx.MockTransport(refused)) as http,
        pytest.raises(TransportError, match=r"not ready after 0\.5 s: .* last answered dial tcp"),
    ):
        wait_until_ready(http, "http://127.0.0.1:9", 0.5, sleep=fake.sleep, clock=fake.clock)
    assert len(fake.sleeps) >= 2


def test_a_url_that_cannot_be_sent_fails_at_once() -> None:
    fake = FakeTime()
    with (
        httpx.Client() as http,
        pytest.raises(TransportError, match=r'^send GET request: Get "ftp://nim/v1/health/ready"'),
    ):
        wait_until_ready(http, "ftp://nim", 10, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == []


@pytest.mark.parametrize("bad", [0, -1, True])
def test_seconds_must_be_positive(bad: float) -> None:
    with httpx.Client() as http, pytest.raises(ConfigError, match="wait_ready must be a number"):
        wait_until_ready(http, "http://nim", bad)


def test_the_async_twin() -> None:
    fake = FakeTime()
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200 if len(seen) == 3 else 503)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await await_until_ready(http, "http://nim", 10, asleep=fake.asleep, clock=fake.clock)

    anyio.run(main)
    assert len(seen) == 3
    assert fake.sleeps == [0.1, 0.2]


def test_the_async_twin_says_not_ready() -> None:
    fake = FakeTime()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await await_until_ready(http, "http://nim", 2, asleep=fake.asleep, clock=fake.clock)

    with pytest.raises(TransportError, match="NIM not ready after 2 s"):
        anyio.run(main)


def test_each_poll_is_bounded_by_a_deadline_on_the_monotonic_clock() -> None:
    fake = FakeTime()
    seen: list[float | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(current_deadline())
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        before = time.monotonic()
        wait_until_ready(http, "http://nim", 60, sleep=fake.sleep, clock=fake.clock)
    (deadline,) = seen
    assert deadline is not None
    assert before + 4.9 <= deadline <= time.monotonic() + 5.0  # one poll: at most 5 s


# ---- through the clients ---------------------------------------------------------------------


def test_wait_ready_polls_once_per_base_url_before_the_first_request() -> None:
    recorder = Recorder()
    with client(recorder, wait_ready=5, max_documents=1, max_concurrency=3) as c:
        c.rank("q", ["a", "b", "c"], cfg())
        c.rank("q", ["a"], cfg())
        c.rank("q", ["a"], cfg(), headers={"X-Nvidia-Baseurl": "http://other.test"})
    ready = [str(r.url) for r in recorder.requests if r.url.path.endswith("/health/ready")]
    assert ready == [f"{BASE}/v1/health/ready", "http://other.test/v1/health/ready"]
    assert recorder.paths[0] == "/v1/health/ready"


def test_without_wait_ready_nothing_is_polled() -> None:
    recorder = Recorder()
    with client(recorder) as c:
        c.rank("q", ["a"], cfg())
    assert recorder.paths == ["/v1/retrieval/nvidia/reranking"]


def test_a_nim_that_never_gets_ready_is_a_transport_error_and_no_rank_request() -> None:
    def loading(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return loading(request)

    with Client("k", transport=httpx.MockTransport(answer)) as c, pytest.raises(TransportError):
        c.rank("q", ["a"], cfg(waitReady=0.3))
    assert set(seen) == {"/v1/health/ready"}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_wait_ready(anyio_backend: str) -> None:
    recorder = Recorder()
    async with AsyncClient(
        "k", transport=httpx.MockTransport(recorder), wait_ready=5, max_documents=1
    ) as c:
        await c.rank("q", ["a", "b"], cfg())
    assert recorder.paths.count("/v1/health/ready") == 1
    assert recorder.paths[0] == "/v1/health/ready"


# ---- what the last poll got, on a real connection ------------------------------


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_nim_answering_503_until_the_end_is_reported_as_503(http_server: Any) -> None:
    # Before: the last poll was made at the very end, with no time left, and the error said
    # "last answered context deadline exceeded" although every poll was answered 503.
    server = http_server(lambda request, w: w.respond(503, b'{"status":"loading"}'))
    base = server.url.rstrip("/")
    with Client("k") as c, pytest.raises(TransportError) as caught:
        c.rank("q", ["a"], cfg(baseURL=base, waitReady=0.5))
    assert str(caught.value) == (
        f'NIM not ready after 0.5 s: Get "{base}/v1/health/ready" last answered status 503'
    )


def test_a_nim_refusing_until_the_end_is_reported_as_refused() -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    with Client("k") as c, pytest.raises(TransportError) as caught:
        c.rank("q", ["a"], cfg(baseURL=base, waitReady=0.5))
    message = str(caught.value)
    assert message.startswith(f'NIM not ready after 0.5 s: Get "{base}/v1/health/ready" ')
    assert message.endswith(
        "last answered dial tcp 127.0.0.1:"
        + base.rsplit(":", 1)[1]
        + ": connect: connection refused"
    ), message


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_a_nim_answering_503_until_the_end_is_reported_as_503(
    anyio_backend: str, http_server: Any
) -> None:
    server = http_server(lambda request, w: w.respond(503, b'{"status":"loading"}'))
    base = server.url.rstrip("/")
    async with AsyncClient("k") as c:
        with pytest.raises(TransportError) as caught:
            await c.rank("q", ["a"], cfg(baseURL=base, waitReady=0.5))
    assert str(caught.value).endswith("last answered status 503")


def test_a_poll_cut_by_the_end_still_reports_the_answer_before() -> None:
    # A poll still waiting when the time is up is not an answer: the 503 before it is named.
    fake = FakeTime()
    slow_last: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        slow_last.append(1)
        if fake.now >= 0.7:  # the NIM stops answering at the end
            raise httpx.ReadTimeout("timed out")
        return httpx.Response(503)

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        pytest.raises(TransportError) as caught,
    ):
        wait_until_ready(http, "http://nim", 1, sleep=fake.sleep, clock=fake.clock)
    assert str(caught.value).endswith("last answered status 503")
    assert fake.now == pytest.approx(1.0)


def test_a_nim_that_never_answers_a_poll_is_reported_as_the_deadline() -> None:
    fake = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        pytest.raises(TransportError) as caught,
    ):
        wait_until_ready(http, "http://nim", 1, sleep=fake.sleep, clock=fake.clock)
    assert str(caught.value).endswith("last answered context deadline exceeded")


def test_a_poll_that_timed_out_on_its_own_is_an_answer() -> None:
    # Within a long wait, a poll that got nothing in its 5 s says so, after an earlier 503.
    fake = FakeTime()
    outcomes: list[str] = ["503", "hang"]

    def handler(request: httpx.Request) -> httpx.Response:
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if outcome == "hang":
            fake.now += 5.0
            raise httpx.ReadTimeout("timed out")
        return httpx.Response(503)

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        pytest.raises(TransportError) as caught,
    ):
        wait_until_ready(http, "http://nim", 60, sleep=fake.sleep, clock=fake.clock)
    assert str(caught.value).endswith("last answered context deadline exceeded")
