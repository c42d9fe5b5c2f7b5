"""The ``endpoint`` extension (D-EXT-ENDPOINT): each route's URL, body, answer, and ``auto``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from nim_emulator import EmulatorConfig, running_emulator
from reranker_nvidia import (
    AsyncClient,
    ClassBasedModuleConfig,
    Client,
    EndpointMismatchError,
    InvalidPassageError,
    InvalidRankingsError,
    MissingAPIKeyError,
    Passage,
    ResponseParseError,
    TokenLimitError,
    UpstreamError,
)
from reranker_nvidia.clients.ranker import parse_rank_response
from reranker_nvidia.extensions.endpoint import does_not_fit, route_path

BASE = "http://nim.test"
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAcCBlCwAAAABJRU5ErkJggg=="

Answer = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler: records each request, answers with ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        return self.answer(request)

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]

    def body(self, i: int = 0) -> Any:
        return json.loads(self.requests[i].content)


def rankings(request: httpx.Request) -> httpx.Response:
    """A NIM answer: passage i scores -i."""
    count = len(json.loads(request.content)["passages"])
    return httpx.Response(200, json={"rankings": [{"index": i, "logit": -i} for i in range(count)]})


def results(request: httpx.Request) -> httpx.Response:
    """A gateway answer, best first: document i scores 1 / (i + 1)."""
    count = len(json.loads(request.content)["documents"])
    ranked = [{"index": i, "relevance_score": 1 / (i + 1)} for i in reversed(range(count))]
    return httpx.Response(200, json={"results": ranked, "id": "x", "meta": {}})


def cfg(**settings: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": BASE, **settings})


def client(answer: Answer, key: str = "k", **kwargs: Any) -> tuple[Client, Recorder]:
    recorder = Recorder(answer)
    return Client(key, transport=httpx.MockTransport(recorder), **kwargs), recorder


def scores(result: Any) -> list[float]:
    return [s.score for s in result.document_scores]


# ---- each route ------------------------------------------------------------------------------


def test_the_model_route_writes_dots_as_underscores_in_the_path_only() -> None:
    c, rec = client(rankings, endpoint="model")
    with c:
        c.rank("q", ["a", "b"], cfg(model="nvidia/llama-3.2-nv-rerankqa-1b-v2"))
    assert str(rec.requests[0].url) == (
        f"{BASE}/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking"
    )
    assert rec.body()["model"] == "nvidia/llama-3.2-nv-rerankqa-1b-v2"
    assert rec.body() == {
        "model": "nvidia/llama-3.2-nv-rerankqa-1b-v2",
        "query": {"text": "q"},
        "passages": [{"text": "a"}, {"text": "b"}],
    }


def test_route_paths() -> None:
    assert route_path("retrieval", "m.x") == "/v1/retrieval/nvidia/reranking"
    assert route_path("model", "nvidia/a.b.c") == "/v1/retrieval/nvidia/a_b_c/reranking"
    assert route_path("ranking", "m") == "/v1/ranking"
    assert route_path("rerank", "m") == "/v1/rerank"


def test_the_ranking_route_sends_no_authorization_without_a_key() -> None:
    c, rec = client(rankings, key="", endpoint="ranking")
    with c:
        result = c.rank("q", ["a", "b"], cfg(baseURL="http://nim.test/"))
    assert scores(result) == [0.0, -1.0]
    request = rec.requests[0]
    assert str(request.url) == f"{BASE}/v1/ranking"
    assert "authorization" not in request.headers
    assert request.headers["accept"] == "application/json"


def test_the_ranking_route_sends_a_key_when_there_is_one() -> None:
    c, rec = client(rankings, key="secret", endpoint="ranking")
    with c:
        c.rank("q", ["a"], cfg())
    assert rec.requests[0].headers["authorization"] == "Bearer secret"


@pytest.mark.parametrize("endpoint", ["retrieval", "model", "rerank"])
def test_every_other_route_still_demands_a_key_as_go_does(endpoint: str) -> None:
    c, rec = client(rankings, key="", endpoint=endpoint)
    with c, pytest.raises(MissingAPIKeyError, match=r"^Nvidia API Key: no api key found"):
        c.rank("q", ["a"], cfg())
    assert rec.requests == []


def test_the_gateway_gets_a_cohere_body_and_its_results_are_read_by_index() -> None:
    c, rec = client(results, endpoint="rerank", truncate="END")
    with c:
        result = c.rank("when?", ["a", "b", "c"], cfg(model="m"))
    assert str(rec.requests[0].url) == f"{BASE}/v1/rerank"
    # truncate is not part of the gateway's contract: never sent there
    assert rec.body() == {"model": "m", "query": "when?", "documents": ["a", "b", "c"], "top_n": 3}
    assert scores(result) == [1.0, 0.5, pytest.approx(1 / 3)]
    assert [s.document for s in result.document_scores] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"results": {}}', "results: Input should be a valid array"),
        (b'{"results": [{"index": "0", "relevance_score": 1.0}]}', "results.0.index"),
        (b'{"results": [{"index": 0}]}', "results.0.relevance_score: Field required"),
        (b'{"results": [{"index": 0, "relevance_score": "high"}]}', "results.0.relevance_score"),
        (b'{"results": [{"index": 0, "relevance_score": NaN}]}', ""),
    ],
)
def test_a_malformed_gateway_body_is_refused_with_gos_prefix(body: bytes, reason: str) -> None:
    c, _ = client(lambda r: httpx.Response(200, content=body), endpoint="rerank")
    with c, pytest.raises(ResponseParseError) as caught:
        c.rank("q", ["a"], cfg())
    assert str(caught.value).startswith("failed to parse reranker response (status 200): ")
    assert reason in str(caught.value)


@pytest.mark.parametrize("body", [b"not json", b'{"results": [', b"\xff\xfe"])
def test_a_gateway_body_that_is_not_json_is_worded_as_a_nim_body_is(body: bytes) -> None:
    with pytest.raises(ResponseParseError) as nim:
        parse_rank_response(200, body, 1)
    c, _ = client(lambda r: httpx.Response(200, content=body), endpoint="rerank")
    with c, pytest.raises(ResponseParseError) as caught:
        c.rank("q", ["a"], cfg())
    assert str(caught.value) == str(nim.value)


@pytest.mark.parametrize(
    ("ranked", "message"),
    [
        ([{"index": 0, "relevance_score": 1.0}], r"passage 1 has no ranking \(1 rankings for 2"),
        (
            [{"index": 0, "relevance_score": 1.0}, {"index": 0, "relevance_score": 0.5}],
            "passage 0 is ranked more than once",
        ),
        (
            [{"index": 0, "relevance_score": 1.0}, {"index": 5, "relevance_score": 0.5}],
            "ranking index 5 is out of range for 2 passages",
        ),
        (
            [{"index": i, "relevance_score": 0.5} for i in range(3)],
            "3 results for 2 documents, more than one per document",
        ),
    ],
)
def test_gateway_results_must_cover_each_document_once(
    ranked: list[dict[str, Any]], message: str
) -> None:
    c, _ = client(lambda r: httpx.Response(200, json={"results": ranked}), endpoint="rerank")
    with c, pytest.raises(InvalidRankingsError, match=message):
        c.rank("q", ["a", "b"], cfg())


def test_the_gateway_refuses_images_before_sending() -> None:
    c, rec = client(results, endpoint="rerank")
    with c, pytest.raises(InvalidPassageError, match=r"^passage 1: endpoint rerank takes text"):
        c.rank("q", ["a", Passage(image=PNG)], cfg())
    assert rec.requests == []


def test_truncate_is_sent_on_the_three_nim_routes() -> None:
    for endpoint in ("retrieval", "model", "ranking"):
        c, rec = client(rankings, endpoint=endpoint, truncate="NONE")
        with c:
            c.rank("q", ["a"], cfg())
        assert rec.body()["truncate"] == "NONE"


# ---- hints on a 404 --------------------------------------------------------------------------


def page_not_found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, text="404 page not found\n")


def test_a_404_page_keeps_gos_message_by_default_and_sets_the_hint() -> None:
    c, _ = client(page_not_found)
    with c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg())
    assert str(caught.value) == (
        "connection to NVIDIA API failed with status: 404 error: 404 page not found"
    )
    assert caught.value.hint is not None
    assert 'set endpoint "ranking"' in caught.value.hint


def test_a_404_page_on_the_ranking_route_names_the_model_route_in_the_message() -> None:
    c, _ = client(page_not_found, endpoint="ranking")
    with c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg())
    message = str(caught.value)
    assert message.startswith(
        "connection to NVIDIA API failed with status: 404 error: 404 page not found; "
    )
    assert message.endswith(caught.value.hint or "<no hint>")
    assert 'set endpoint "model"' in message


def test_a_404_naming_the_available_models_names_the_model_route() -> None:
    def unknown(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404,
            json={
                "detail": "Unknown model 'nvidia/x-1.0'. Available models are: "
                "['nvidia/rerank-qa-mistral-4b']"
            },
        )

    c, _ = client(unknown)
    with c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg(model="nvidia/x-1.0"))
    assert "Available models" in str(caught.value)
    assert caught.value.hint == (
        "this route does not serve nvidia/x-1.0; NVIDIA's hosted service serves it on its "
        'own route, /v1/retrieval/nvidia/x-1_0/reranking: set endpoint "model"'
    )


def test_a_404_that_says_nothing_of_routes_has_no_hint() -> None:
    def gone(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Function 'f': Not found for account 'a'"})

    c, _ = client(gone, endpoint="model")
    with c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg())
    assert caught.value.hint is None
    assert str(caught.value).endswith("Not found for account 'a'")


# ---- auto ------------------------------------------------------------------------------------


def routes_answer(**by_route: Answer) -> Answer:
    """Answers by route name; a route not named answers ``404 page not found``."""
    paths = {
        "/v1/retrieval/nvidia/reranking": "retrieval",
        "/v1/ranking": "ranking",
        "/v1/rerank": "rerank",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        name = paths.get(request.url.path, "model")
        return by_route.get(name, page_not_found)(request)

    return answer


def test_auto_probes_in_order_and_remembers_the_winner() -> None:
    c, rec = client(routes_answer(ranking=rankings), endpoint="auto")
    with c:
        first = c.rank("q", ["a", "b"], cfg(model="nvidia/m-1.0"))
        assert rec.paths == [
            "/v1/retrieval/nvidia/reranking",
            "/v1/retrieval/nvidia/m-1_0/reranking",
            "/v1/ranking",
        ]
        second = c.rank("q", ["a", "b"], cfg(model="nvidia/m-1.0"))
    assert scores(first) == scores(second) == [0.0, -1.0]
    assert rec.paths[3:] == ["/v1/ranking"]


def test_auto_moves_on_after_a_405_and_a_shape_422_and_reads_the_gateway() -> None:
    def not_allowed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(405, json={"detail": "Method Not Allowed"})

    def shape(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={"detail": [{"loc": ["body", "documents"], "msg": "Field required"}]},
        )

    c, rec = client(
        routes_answer(retrieval=not_allowed, model=shape, rerank=results), endpoint="auto"
    )
    with c:
        result = c.rank("q", ["a", "b"], cfg())
    assert rec.paths[-1] == "/v1/rerank"
    assert len(rec.paths) == 4
    assert scores(result) == [1.0, 0.5]


def test_auto_stops_at_a_passage_level_422_and_remembers_nothing() -> None:
    def empty_text(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={
                "detail": [
                    {"loc": ["body", "passages", 1, "text"], "msg": "String should have at least"}
                ]
            },
        )

    c, rec = client(routes_answer(retrieval=empty_text), endpoint="auto")
    with c:
        with pytest.raises(UpstreamError) as caught:
            c.rank("q", ["a", ""], cfg())
        assert caught.value.status == 422
        assert rec.paths == ["/v1/retrieval/nvidia/reranking"]
        assert c.extension_state["auto"].found(BASE) is None
        with pytest.raises(UpstreamError):
            c.rank("q", ["a", ""], cfg())
    assert len(rec.paths) == 2  # probed again, from the first route


def test_auto_stops_at_a_token_overflow() -> None:
    def overflow(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={
                "object": "error",
                "message": "Input length 9000 exceeds maximum allowed token size 8192",
            },
        )

    c, rec = client(routes_answer(ranking=overflow), endpoint="auto")
    with c, pytest.raises(TokenLimitError):
        c.rank("q", ["a"], cfg())
    assert rec.paths[-1] == "/v1/ranking"
    assert len(rec.paths) == 3


def test_auto_stops_at_an_error_that_is_not_about_the_route() -> None:
    def unauthorized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"detail": "Unauthorized"})

    c, rec = client(routes_answer(retrieval=unauthorized), endpoint="auto")
    with c, pytest.raises(UpstreamError) as caught:
        c.rank("q", ["a"], cfg())
    assert caught.value.status == 401
    assert rec.paths == ["/v1/retrieval/nvidia/reranking"]


def test_auto_that_finds_nothing_says_every_route_and_its_answer() -> None:
    c, rec = client(routes_answer(), endpoint="auto")
    with c, pytest.raises(EndpointMismatchError) as caught:
        c.rank("q", ["a"], cfg(model="m"))
    assert str(caught.value) == (
        f"endpoint auto found no route that fits {BASE}: "
        f"retrieval ({BASE}/v1/retrieval/nvidia/reranking) answered 404: 404 page not found; "
        f"model ({BASE}/v1/retrieval/m/reranking) answered 404: 404 page not found; "
        f"ranking ({BASE}/v1/ranking) answered 404: 404 page not found; "
        f"rerank ({BASE}/v1/rerank) answered 404: 404 page not found"
    )
    assert [t[0] for t in caught.value.tried] == ["retrieval", "model", "ranking", "rerank"]
    assert len(rec.paths) == 4


def test_auto_without_a_key_tries_only_the_keyless_route() -> None:
    c, rec = client(routes_answer(), key="", endpoint="auto")
    with c, pytest.raises(EndpointMismatchError) as caught:
        c.rank("q", ["a"], cfg())
    assert rec.paths == ["/v1/ranking"]
    assert "retrieval not tried: no API key" in str(caught.value)
    assert "rerank not tried: no API key" in str(caught.value)


def test_auto_skips_the_gateway_for_images() -> None:
    c, rec = client(routes_answer(rerank=results), endpoint="auto")
    with c, pytest.raises(EndpointMismatchError, match="rerank not tried: it takes no images"):
        c.rank("q", [Passage(image=PNG)], cfg())
    assert "/v1/rerank" not in rec.paths


def test_concurrent_chunks_of_the_first_call_probe_once() -> None:
    gate = threading.Event()

    def slow_ranking(request: httpx.Request) -> httpx.Response:
        gate.wait(0.2)  # let the other chunks arrive while the probe runs
        return rankings(request)

    c, rec = client(
        routes_answer(ranking=slow_ranking), endpoint="auto", max_documents=1, max_concurrency=4
    )
    with c:
        result = c.rank("q", ["a", "b", "c", "d"], cfg(model="m"))
    assert scores(result) == [0.0, 0.0, 0.0, 0.0]
    assert rec.paths.count("/v1/retrieval/nvidia/reranking") == 1
    assert rec.paths.count("/v1/retrieval/m/reranking") == 1
    assert rec.paths.count("/v1/ranking") == 4


def test_each_base_url_is_probed_on_its_own() -> None:
    c, rec = client(routes_answer(retrieval=rankings, ranking=rankings), endpoint="auto")
    with c:
        c.rank("q", ["a"], cfg())
        c.rank("q", ["a"], cfg(), headers={"X-Nvidia-Baseurl": "http://other.test"})
    assert [str(r.url) for r in rec.requests] == [
        f"{BASE}/v1/retrieval/nvidia/reranking",
        "http://other.test/v1/retrieval/nvidia/reranking",
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_concurrent_chunks_probe_once(anyio_backend: str) -> None:
    recorder = Recorder(routes_answer(ranking=rankings))
    async with AsyncClient(
        "k",
        transport=httpx.MockTransport(recorder),
        endpoint="auto",
        max_documents=1,
        max_concurrency=4,
    ) as c:
        result = await c.rank("q", ["a", "b", "c", "d"], cfg(model="m"))
        assert recorder.paths.count("/v1/retrieval/nvidia/reranking") == 1
        assert recorder.paths.count("/v1/ranking") == 4
        again = await c.rank("q", ["a"], cfg(model="m"))
    assert scores(result) == [0.0] * 4
    assert scores(again) == [0.0]
    assert recorder.paths[-1] == "/v1/ranking"
    assert len(recorder.paths) == 7


# ---- what "does not fit" means ---------------------------------------------------------------


def upstream(status: int, body: bytes) -> UpstreamError:
    return UpstreamError("x", status=status, body=body)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, b"404 page not found\n", True),
        (404, b'{"detail": "Function not found"}', True),
        (405, b"", True),
        (400, b"top_k: unknown field, expected one of model, query, passages, truncate", True),
        (422, b'{"detail": [{"loc": ["body", "query"], "msg": "Input should be a valid dictionary"}]}', True),
        (422, b'{"detail": "body -> passages -> 0 -> image\\n  Extra inputs are not permitted (type=extra_forbidden)"}', True),
        (422, b'{"detail": [{"loc": ["body", "passages", 0, "text"], "msg": "too short"}]}', False),
        (422, b'{"detail": "body -> passages -> 1 -> text\\n  ensure this value has at least 1 characters"}', False),
        (400, b'{"message": "passages[2].text: Field required"}', False),
        (400, b"bad request", False),
        (401, b"404 page not found", False),
        (500, b"", False),
    ],
)  # fmt: skip
def test_does_not_fit(status: int, body: bytes, expected: bool) -> None:
    assert does_not_fit(upstream(status, body)) is expected


def test_a_token_overflow_always_fits() -> None:
    err = TokenLimitError("x", status=422, body=b"field required")
    assert does_not_fit(err) is False


# ---- on the emulator -------------------------------------------------------------------------


def test_each_endpoint_against_the_emulator() -> None:
    with running_emulator(EmulatorConfig(api_key="test-key")) as base:
        found: dict[str, list[float]] = {}
        for endpoint, model in [
            ("retrieval", "nvidia/rerank-qa-mistral-4b"),
            ("model", "nvidia/llama-nemotron-rerank-1b-v2"),
            ("ranking", "nvidia/llama-nemotron-rerank-1b-v2"),
            ("rerank", "nvidia/llama-nemotron-rerank-1b-v2"),
            ("auto", "nvidia/llama-nemotron-rerank-1b-v2"),
        ]:
            settings = ClassBasedModuleConfig.for_settings({"baseURL": base, "model": model})
            with Client("test-key", endpoint=endpoint) as c:
                result = c.rank("library hours", ["Cafeteria 8-8.", "Library hours 9-5."], settings)
                found[endpoint] = scores(result)
                if endpoint == "auto":
                    assert c.extension_state["auto"].found(base) == "model"
    for endpoint, pair in found.items():
        assert len(pair) == 2, endpoint
        assert pair[1] > pair[0], endpoint  # the library passage wins on every route
