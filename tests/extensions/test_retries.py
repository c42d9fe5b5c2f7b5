"""The retry policy: which failures are retried, the pauses, Retry-After, the one deadline."""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import Callable

import anyio
import httpx
import pytest

from nim_emulator import EmulatorConfig, FaultSpec, create_app, running_emulator
from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.errors import (
    DeadlineExceededError,
    DialRefusedError,
    RerankerError,
    ResponseTooLargeError,
    TransportError,
    UpstreamError,
)
from reranker_nvidia.extensions.retries import (
    MAX_RETRY_AFTER_S,
    RETRYABLE_STATUSES,
    RetryPolicy,
    is_retryable,
    retry_after_seconds,
)
from reranker_nvidia.modulecomponents._deadline import current_deadline
from tests.extensions._support import Recorder, cfg, client
from tests.support.fakes import FakeTime
from tests.support.flows import DrivenPolicy

GO_503 = "connection to NVIDIA API failed with status: 503"


def upstream(status: int, **headers: str) -> UpstreamError:
    return UpstreamError(
        f"connection to NVIDIA API failed with status: {status}",
        status=status,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def transport(cause: BaseException, kind: type[TransportError] = TransportError) -> TransportError:
    try:
        raise kind('send POST request: Post "http://x": boom') from cause
    except TransportError as err:
        return err


def script(*outcomes: object) -> tuple[Callable[[], str], list[int]]:
    """An attempt that raises or returns each outcome in turn; the list counts the calls."""
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)

    return attempt, calls


def policy(retries: int, fake: FakeTime, rng: float = 0.5, **kw: float) -> DrivenPolicy:
    made = RetryPolicy(
        retries,
        rng=lambda: rng,
        clock=fake.clock,
        wall_clock=lambda: 1_700_000_000.0,
        **kw,
    )
    return DrivenPolicy(made, fake.sleep, fake.asleep)


def test_retries_zero_calls_once_and_changes_nothing() -> None:
    fake = FakeTime(now=1000.0)
    err = upstream(503)
    attempt, calls = script(err)
    with pytest.raises(UpstreamError) as caught:
        policy(0, fake).run(attempt, timeout=5)
    assert caught.value is err
    assert str(err) == GO_503
    assert not hasattr(err, "attempts")
    assert (len(calls), fake.sleeps) == (1, [])


def test_retries_zero_opens_no_deadline() -> None:
    seen: list[float | None] = []
    DrivenPolicy(RetryPolicy(0)).run(lambda: seen.append(current_deadline()), timeout=5)
    assert seen == [None]


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_a_transient_status_is_retried_until_success(status: int) -> None:
    fake = FakeTime(now=1000.0)
    attempt, calls = script(upstream(status), upstream(status), "scores")
    assert policy(3, fake).run(attempt, timeout=None) == "scores"
    assert len(calls) == 3
    assert fake.sleeps == [0.25, 0.5]  # rng 0.5 of 0.5 s, then of 1 s


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 410, 413, 422, 501, 505])
def test_no_other_status_is_ever_retried(status: int) -> None:
    fake = FakeTime(now=1000.0)
    err = upstream(status)
    attempt, calls = script(err, "never")
    with pytest.raises(UpstreamError) as caught:
        policy(5, fake).run(attempt, timeout=None)
    assert caught.value is err
    assert len(calls) == 1
    assert fake.sleeps == []
    # One attempt: the text is Go's, the count is on the error only.
    assert str(err) == f"connection to NVIDIA API failed with status: {status}"
    assert err.attempts == 1  # type: ignore[attr-defined]


def test_the_last_error_says_how_many_attempts_were_made() -> None:
    fake = FakeTime(now=1000.0)
    last = upstream(503)
    attempt, calls = script(upstream(503), upstream(429), last)
    with pytest.raises(UpstreamError) as caught:
        policy(2, fake).run(attempt, timeout=None)
    assert caught.value is last
    assert str(last) == f"{GO_503} (after 3 attempts)"
    assert last.attempts == 3  # type: ignore[attr-defined]
    assert last.status == 503
    assert len(calls) == 3


def test_full_jitter_is_random_up_to_the_capped_exponential() -> None:
    fake = FakeTime(now=1000.0)
    attempt, _ = script(*[upstream(500)] * 6, "ok")
    assert policy(6, fake, rng=0.999, base_delay=1.0, max_delay=5.0).run(attempt, timeout=None)
    ceilings = [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert fake.sleeps == pytest.approx([0.999 * c for c in ceilings])
    fake = FakeTime(now=1000.0)
    attempt, _ = script(upstream(500), "ok")
    policy(1, fake, rng=0.0).run(attempt, timeout=None)
    assert fake.sleeps == [0.0]


def test_retry_after_in_seconds_is_waited_exactly() -> None:
    fake = FakeTime(now=1000.0)
    attempt, calls = script(upstream(503, retry_after="7"), "ok")
    assert policy(1, fake).run(attempt, timeout=None) == "ok"
    assert fake.sleeps == [7.0]
    assert len(calls) == 2


def test_retry_after_as_an_http_date_is_waited_until() -> None:
    fake = FakeTime(now=1000.0)
    when = email.utils.formatdate(1_700_000_000.0 + 12, usegmt=True)
    attempt, _ = script(upstream(429, retry_after=when), "ok")
    assert policy(1, fake).run(attempt, timeout=None) == "ok"
    assert fake.sleeps == [12.0]


def test_retry_after_beyond_the_deadline_stops_at_once_with_the_error() -> None:
    fake = FakeTime(now=1000.0)
    err = upstream(503, retry_after="30")
    attempt, calls = script(err, "never")
    with pytest.raises(UpstreamError) as caught:
        policy(3, fake).run(attempt, timeout=10)
    assert caught.value is err
    assert (len(calls), fake.sleeps) == (1, [])
    assert str(err) == GO_503


def test_attempts_and_pauses_share_one_deadline() -> None:
    fake = FakeTime(now=1000.0)
    seen: list[float | None] = []

    def attempt() -> str:
        seen.append(current_deadline())
        fake.now += 3  # each attempt takes 3 s
        raise upstream(502, retry_after="2")

    with pytest.raises(UpstreamError) as caught:
        policy(10, fake).run(attempt, timeout=12)
    # 0-3 attempt, 3-5 pause, 5-8 attempt, 8-10 pause, 10-13 attempt: then no time for a pause.
    assert fake.sleeps == [2.0, 2.0]
    assert seen == [1012.0, 1012.0, 1012.0]
    assert str(caught.value).endswith("(after 3 attempts)")


def test_the_deadline_in_force_is_the_earlier_one() -> None:
    fake = FakeTime(now=1000.0)
    seen: list[float | None] = []
    from reranker_nvidia.modulecomponents._deadline import deadline_scope

    with deadline_scope(1005.0):
        policy(1, fake).run(lambda: seen.append(current_deadline()), timeout=60)
    assert seen == [1005.0]


def test_a_jitter_pause_past_the_deadline_is_not_taken() -> None:
    fake = FakeTime(now=1000.0)
    attempt, calls = script(upstream(500), "never")
    with pytest.raises(UpstreamError):
        policy(1, fake, rng=0.9, base_delay=20.0).run(attempt, timeout=10)
    assert (len(calls), fake.sleeps) == (1, [])


@pytest.mark.parametrize(
    "cause",
    [
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        ConnectionResetError(104, "reset"),
    ],
)
def test_a_broken_connection_is_retried(cause: BaseException) -> None:
    fake = FakeTime(now=1000.0)
    attempt, calls = script(transport(cause), "ok")
    assert policy(1, fake).run(attempt, timeout=None) == "ok"
    assert len(calls) == 2


def _cert_refused() -> TransportError:
    try:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as tls:
            raise httpx.ConnectError("certificate verify failed") from tls
    except httpx.ConnectError as err:
        return transport(err)


@pytest.mark.parametrize(
    "err",
    [
        transport(httpx.ConnectTimeout("timed out"), DeadlineExceededError),
        transport(httpx.ConnectError("guard"), DialRefusedError),
        transport(httpx.ReadError("x"), ResponseTooLargeError),
        _cert_refused(),
        transport(httpx.UnsupportedProtocol("ftp")),
        TransportError("send POST request: no cause"),
        RerankerError("something else"),
    ],
    ids=["deadline", "dial-guard", "too-large", "certificate", "scheme", "no-cause", "other"],
)
def test_failures_that_would_repeat_are_not_retried(err: RerankerError) -> None:
    assert not is_retryable(err)
    fake = FakeTime(now=1000.0)
    attempt, calls = script(err, "never")
    with pytest.raises(RerankerError) as caught:
        policy(3, fake).run(attempt, timeout=None)
    assert caught.value is err
    assert len(calls) == 1


def test_an_exception_that_is_not_the_librarys_passes_through_untouched() -> None:
    fake = FakeTime(now=1000.0)
    attempt, calls = script(KeyError("bug"), "never")
    with pytest.raises(KeyError):
        policy(3, fake).run(attempt, timeout=None)
    assert len(calls) == 1


def test_ctrl_c_during_a_pause_stops_at_once() -> None:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        raise upstream(503)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    retrying = DrivenPolicy(RetryPolicy(5), sleep=interrupted)
    with pytest.raises(KeyboardInterrupt):
        retrying.run(attempt, timeout=None)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Tue, 14 Nov 2023 22:13:30 GMT", 10.0),  # 1_700_000_010
        ("Tue, 14 Nov 2023 22:13:10 GMT", 0.0),  # a date past: at once
        ("-3", None),
        ("soon", None),
        ("inf", None),
    ],
)
def test_retry_after_values(value: str, seconds: float | None) -> None:
    got = retry_after_seconds({"retry-after": value}, now=lambda: 1_700_000_000.0)
    assert got == (None if seconds is None else pytest.approx(seconds))


def test_no_retry_after_header() -> None:
    assert retry_after_seconds({}) is None


def test_driven_async_it_retries_the_same_way() -> None:
    fake = FakeTime(now=1000.0)
    outcomes: list[object] = [upstream(503, retry_after="1"), upstream(429), "scores"]
    calls: list[float | None] = []

    def attempt() -> str:
        calls.append(current_deadline())
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)

    async def main() -> str:
        return await policy(2, fake).arun(attempt, timeout=30)

    assert anyio.run(main) == "scores"
    assert fake.sleeps == [1.0, 0.5]
    assert calls == [1030.0, 1030.0, 1030.0]


def test_driven_async_it_counts_attempts_in_the_last_error() -> None:
    fake = FakeTime(now=1000.0)

    def attempt() -> str:
        raise upstream(500)

    async def main() -> str:
        return await policy(1, fake).arun(attempt, timeout=None)

    with pytest.raises(UpstreamError, match=r"status: 500 \(after 2 attempts\)$"):
        anyio.run(main)


def test_the_async_pause_is_cancellable() -> None:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        raise upstream(503, retry_after="60")

    async def main() -> None:
        with anyio.move_on_after(0.05) as scope:
            await DrivenPolicy(RetryPolicy(3)).arun(attempt, timeout=None)
        assert scope.cancelled_caught

    anyio.run(main)
    assert len(calls) == 1


def test_a_negative_retry_count_is_refused() -> None:
    with pytest.raises(ValueError, match="retries must be 0 or more"):
        RetryPolicy(-1)


# ---- through the clients ---------------------------------------------------------------------


def test_retries_resend_a_503_and_the_result_is_unchanged() -> None:
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": "0"}))
    with client(recorder, retries=2) as c:
        result = c.rank("q", ["a", "b"], cfg())
    assert len(recorder.requests) == 2
    assert [s.score for s in result.document_scores] == [0.0, 1.0]


def test_retries_from_a_class_setting() -> None:
    recorder = Recorder(httpx.Response(429, headers={"Retry-After": "0"}))
    with client(recorder) as c:
        c.rank("q", ["a"], cfg(retries=1))
    assert len(recorder.requests) == 2


def test_without_retries_a_503_is_gos_error_after_one_request() -> None:
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": "0"}))
    with client(recorder) as c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg())
    assert str(caught.value) == "connection to NVIDIA API failed with status: 503"
    assert len(recorder.requests) == 1


def test_through_a_client_the_last_error_says_how_many_attempts_were_made() -> None:
    replies = [httpx.Response(503, headers={"Retry-After": "0"}) for _ in range(3)]
    recorder = Recorder(*replies)
    with client(recorder, retries=2) as c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg())
    assert (
        str(caught.value) == "connection to NVIDIA API failed with status: 503 (after 3 attempts)"
    )
    assert len(recorder.requests) == 3


def test_a_404_is_never_retried() -> None:
    recorder = Recorder(httpx.Response(404, text="404 page not found"))
    with client(recorder, retries=3) as c, pytest.raises(UpstreamError):
        c.rank("q", ["a"], cfg())
    assert len(recorder.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_retries(anyio_backend: str) -> None:
    recorder = Recorder(httpx.Response(502, headers={"Retry-After": "0"}))
    async with AsyncClient("k", transport=httpx.MockTransport(recorder), retries=1) as c:
        result = await c.rank("q", ["a"], cfg())
    assert len(recorder.requests) == 2
    assert [s.score for s in result.document_scores] == [0.0]


def test_on_the_emulator_a_transient_fault_changes_only_the_number_of_requests() -> None:
    settings = {"model": "nvidia/llama-nemotron-rerank-1b-v2"}
    documents = ["Cafeteria 8-8.", "Library hours 9-5.", "Gym 6-10."]
    with (
        running_emulator(EmulatorConfig(api_key="test-key")) as base,
        Client("test-key", endpoint="ranking") as c,
    ):
        clean = c.rank(
            "library", documents, ClassBasedModuleConfig.for_settings({**settings, "baseURL": base})
        )
    app = create_app(
        EmulatorConfig(
            api_key="test-key", faults=[FaultSpec.parse("status=503,count=2,retry-after=0")]
        )
    )
    with running_emulator(app=app) as base:
        with Client("test-key", endpoint="ranking", retries=3) as c:
            retried = c.rank(
                "library",
                documents,
                ClassBasedModuleConfig.for_settings({**settings, "baseURL": base}),
            )
        sent = [r for r in app.state.emulator.requests if r.path == "/v1/ranking"]
    assert [s.score for s in retried.document_scores] == [s.score for s in clean.document_scores]
    assert len(sent) == 3


# ---- a Retry-After longer than any wait worth taking ---------------------------


@pytest.mark.parametrize(
    "value",
    [
        "1e9",  # 31 years
        "9300000000",  # past what time.sleep takes: an OverflowError before the cap
        "Fri, 31 Dec 9999 23:59:59 GMT",
        f"{MAX_RETRY_AFTER_S + 1:g}",
    ],
)
def test_a_retry_after_past_the_cap_is_not_waited_even_without_a_timeout(value: str) -> None:
    fake = FakeTime(now=1000.0)
    err = upstream(503, retry_after=value)
    attempt, calls = script(err, "never")
    with pytest.raises(UpstreamError) as caught:
        policy(3, fake).run(attempt, timeout=0)
    assert caught.value is err
    assert (len(calls), fake.sleeps) == (1, [])
    assert caught.value.attempts == 1  # type: ignore[attr-defined]


def test_a_retry_after_at_the_cap_is_waited() -> None:
    fake = FakeTime(now=1000.0)
    attempt, _ = script(upstream(429, retry_after=f"{MAX_RETRY_AFTER_S:g}"), "ok")
    assert policy(1, fake).run(attempt, timeout=None) == "ok"
    assert fake.sleeps == [MAX_RETRY_AFTER_S]


def test_a_huge_retry_after_through_the_sync_client_is_the_typed_503() -> None:
    # Before the cap, time.sleep(9.3e9) raised an untyped OverflowError.
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": "9300000000"}))
    with client(recorder, timeout=0, retries=2) as c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg())
    assert str(caught.value) == GO_503
    assert len(recorder.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("value", ["1e9", "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_a_huge_retry_after_through_the_async_client_returns_at_once(
    anyio_backend: str, value: str
) -> None:
    # Before the cap, the call slept for 31 years (here: until the guard below fired).
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": value}))
    transport = httpx.MockTransport(recorder)
    async with AsyncClient("k", timeout=0, retries=2, transport=transport) as c:
        with anyio.fail_after(5), pytest.raises(UpstreamError) as caught:
            await c.rank("q", ["a"], cfg())
    assert str(caught.value) == GO_503
    assert len(recorder.requests) == 1
