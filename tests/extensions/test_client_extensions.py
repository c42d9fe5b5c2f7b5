"""The extensions' arguments and class settings, wired through a real Client and AsyncClient.

Each is off by default, so the request is Go's; a class setting wins over the
argument for its call; a bad value is one ConfigError line before any
request. Retries, the limiter and the wait for readiness are B's pieces
(``_retry_policy``, ``_rate_limit``, ``_ready``); here they are driven through
the clients, on httpx.MockTransport and on the emulator.
"""

from __future__ import annotations

import itertools
import json
import pickle
import threading
import time
from typing import Any

import httpx
import pytest

from nim_emulator import EmulatorConfig, FaultSpec, create_app, running_emulator
from reranker_nvidia import (
    AsyncClient,
    ClassBasedModuleConfig,
    Client,
    ConfigError,
    TransportError,
    UpstreamError,
)

BASE = "http://nim.test"


class Recorder:
    """Records each request and when it arrived; answers from ``replies`` in turn, then 200."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            self.times.append(time.monotonic())
            if request.url.path.endswith("/health/ready"):
                return httpx.Response(200)
            if self.replies:
                return self.replies.pop(0)
        count = len(json.loads(request.content)["passages"])
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": i} for i in range(count)]}
        )

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def cfg(**settings: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": BASE, **settings})


def client(recorder: Recorder, **kwargs: Any) -> Client:
    return Client("k", transport=httpx.MockTransport(recorder), **kwargs)


def test_with_every_argument_at_its_default_the_request_is_gos() -> None:
    recorder = Recorder()
    with client(recorder) as c:
        c.rank("q", ["a", "b"], cfg(model="nvidia/x-1.0"))
    (request,) = recorder.requests
    assert str(request.url) == f"{BASE}/v1/retrieval/nvidia/reranking"
    assert request.headers["authorization"] == "Bearer k"
    assert request.content == (
        b'{"model":"nvidia/x-1.0","query":{"text":"q"},"passages":[{"text":"a"},{"text":"b"}]}'
    )


def test_a_class_setting_wins_over_the_argument() -> None:
    recorder = Recorder()
    with client(recorder, endpoint="ranking", truncate="END") as c:
        c.rank("q", ["a"], cfg(endpoint="retrieval", truncate="NONE"))
        c.rank("q", ["a"], cfg())
    assert recorder.paths == ["/v1/retrieval/nvidia/reranking", "/v1/ranking"]
    assert [json.loads(r.content)["truncate"] for r in recorder.requests] == ["NONE", "END"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"truncate": "START"}, "wrong truncate type, available types are: [NONE END]"),
        ({"truncate": 1}, "wrong truncate type, available types are: [NONE END]"),
        ({"endpoint": "v2"}, 'endpoint must be one of [retrieval model ranking rerank auto], not "v2"'),
        ({"maxDocuments": 513}, "maxDocuments must be at most 512"),
        ({"maxConcurrency": 0}, "maxConcurrency must be at least 1, not 0"),
        ({"retries": -1}, "retries must be 0 or more, not -1"),
        ({"requestsPerMinute": 0}, "requestsPerMinute must be a number greater than 0, not 0"),
    ],
)  # fmt: skip
def test_a_bad_class_setting_is_one_config_error_before_any_request(
    settings: dict[str, Any], message: str
) -> None:
    recorder = Recorder()
    with client(recorder) as c, pytest.raises(ConfigError) as caught:
        c.rank("q", ["a"], cfg(**settings))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"truncate": "start"}, "wrong truncate type, available types are: [NONE END]"),
        ({"endpoint": "Ranking"}, "endpoint must be one of"),
        ({"retries": -2}, "retries must be 0 or more"),
        ({"wait_ready": 0}, "wait_ready must be a number greater than 0"),
    ],
)
def test_a_bad_argument_is_a_config_error_at_construction(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        Client("k", **kwargs)
    with pytest.raises(ConfigError):
        AsyncClient("k", **kwargs)


def test_max_documents_and_max_concurrency_as_class_settings() -> None:
    recorder = Recorder()
    with client(recorder) as c:
        result = c.rank("q", ["a", "b", "c", "d", "e"], cfg(maxDocuments=2, maxConcurrency=1))
    assert [len(json.loads(r.content)["passages"]) for r in recorder.requests] == [2, 2, 1]
    assert [s.score for s in result.document_scores] == [0.0, 1.0, 0.0, 1.0, 0.0]


def test_the_client_keeps_what_it_was_built_with_but_its_transport() -> None:
    c = Client("k", endpoint="auto", retries=2, transport=httpx.MockTransport(Recorder()))
    assert c._init_kwargs["endpoint"] == "auto"
    assert c._init_kwargs["retries"] == 2
    assert c._init_kwargs["api_key"] == "k"
    assert "transport" not in c._init_kwargs
    assert "resolver" not in c._init_kwargs
    c.close()


def test_a_client_pickles_with_its_extensions() -> None:
    c = Client("k", endpoint="ranking", truncate="END", requests_per_minute=30)
    copy = pickle.loads(pickle.dumps(c))
    assert copy._extensions == c._extensions
    c.close()
    copy.close()


# ---- retries ---------------------------------------------------------------------------------


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


def test_the_last_error_says_how_many_attempts_were_made() -> None:
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


# ---- the limiter -----------------------------------------------------------------------------


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


# ---- waiting for readiness -------------------------------------------------------------------


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


# ---- on the emulator -------------------------------------------------------------------------


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
