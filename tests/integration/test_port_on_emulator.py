"""The port's client and command line, run again against the NIM emulator as a real server.

moto style: the same paths the Go-mirroring tests take against hand-written
loopback servers, now against the emulator's routes, NVIDIA's captured error
bodies and its faults, over a real socket.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator

import anyio
import pytest

from nim_emulator import (
    EmulatorConfig,
    EmulatorState,
    FaultSpec,
    create_app,
    pair_logit,
    running_emulator,
)
from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client, ModelDeprecationWarning
from reranker_nvidia.cli.main import main
from reranker_nvidia.errors import (
    DeadlineExceededError,
    InvalidRankingsError,
    ResponseParseError,
    TransportError,
    UpstreamError,
)

KEY = "emulator-key"
QUERY = "When is the library open?"
DOCS = ["Cafeteria 8-8.", "Library 9-10.", "The library opens at nine and closes at ten."]


class Emulator:
    def __init__(self, base_url: str, state: EmulatorState) -> None:
        self.base_url = base_url
        self.state = state

    def cfg(self, **settings: str) -> ClassBasedModuleConfig:
        return ClassBasedModuleConfig.for_settings(
            "reranker-nvidia", {"baseURL": self.base_url, **settings}
        )

    def fault(self, spec: str) -> None:
        self.state.add_fault(FaultSpec.parse(spec))


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    app = create_app(EmulatorConfig(api_key=KEY))
    with running_emulator(app=app) as base_url:
        yield Emulator(base_url, app.state.emulator)


def rank(
    emulator: Emulator, documents: list[str] = DOCS, key: str = KEY, **kwargs: object
) -> list[float]:
    with Client(key, 5.0, **kwargs) as client:  # type: ignore[arg-type]
        return [s.score for s in client.rank(QUERY, documents, emulator.cfg()).document_scores]


def test_scores_are_the_emulators_placed_by_index(emulator: Emulator) -> None:
    scores = rank(emulator)
    assert scores == [pair_logit(QUERY, d) for d in DOCS]
    assert scores[2] == max(scores)
    (record,) = emulator.state.requests
    assert record.path == "/v1/retrieval/nvidia/reranking"
    assert record.json == {
        "model": "nvidia/rerank-qa-mistral-4b",
        "query": {"text": QUERY},
        "passages": [{"text": d} for d in DOCS],
    }
    assert record.headers["authorization"] == "Bearer <redacted>"
    # The log never holds the key, only a digest of the header that carried it.
    assert record.authorization_sha256 == hashlib.sha256(f"Bearer {KEY}".encode()).hexdigest()
    assert record.tcp_nodelay is True


def test_chunks_over_one_pooled_connection(emulator: Emulator) -> None:
    documents = [f"library hours {i}" for i in range(1100)]
    scores = rank(emulator, documents, max_concurrency=1)
    assert scores == [pair_logit(QUERY, d) for d in documents]
    assert [len(r.json["passages"]) for r in emulator.state.requests] == [512, 512, 76]


def test_a_wrong_key_is_nvidias_403(emulator: Emulator) -> None:
    with pytest.raises(UpstreamError) as caught:
        rank(emulator, key="wrong")
    assert (
        str(caught.value)
        == "connection to NVIDIA API failed with status: 403 error: Authorization failed"
    )


def test_an_unknown_model_lists_the_available_ones(emulator: Emulator) -> None:
    with Client(KEY) as client, pytest.raises(UpstreamError) as caught:
        client.rank(QUERY, DOCS, emulator.cfg(model="nvidia/llama-nemotron-rerank-v1-1b"))
    assert caught.value.status == 404
    assert str(caught.value).endswith(
        "Available models are: ['nvidia/rerank-qa-mistral-4b', 'nv-rerank-qa-mistral-4b:1']"
    )


def test_an_empty_document_is_nvidias_422_with_a_string_detail(emulator: Emulator) -> None:
    # Go sends "" as is; NVIDIA refuses it, in RFC 7807 form (D-DETAIL-STRING).
    with pytest.raises(UpstreamError) as caught:
        rank(emulator, ["fine", ""])
    message = str(caught.value)
    assert message.startswith(
        "connection to NVIDIA API failed with status: 422 error: body -> passages -> 1 -> text"
    )


def test_more_than_512_passages_in_one_request_is_refused(emulator: Emulator) -> None:
    with pytest.raises(UpstreamError) as caught:
        rank(emulator, ["doc"] * 513, max_documents=600)
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("status=429,count=1", "connection to NVIDIA API failed with status: 429"),
        (
            "status=502,count=1",
            "connection to NVIDIA API failed with status: 502 error: Upstream request failed.",
        ),
        ("status=504,count=1", "connection to NVIDIA API failed with status: 504"),
        (
            "malformed-json",
            "failed to parse reranker response (status 200): unexpected end of JSON input",
        ),
        ("drop-mid-body", "read response body: unexpected EOF"),
    ],
)
def test_faults_map_to_gos_errors(emulator: Emulator, spec: str, message: str) -> None:
    emulator.fault(spec)
    with pytest.raises((UpstreamError, ResponseParseError, TransportError)) as caught:
        rank(emulator)
    assert str(caught.value) == message


def test_a_503_says_what_nvidia_said(emulator: Emulator) -> None:
    emulator.fault("status=503,retry-after=10800")
    with pytest.raises(UpstreamError) as caught:
        rank(emulator)
    assert str(caught.value).startswith("connection to NVIDIA API failed with status: 503")


def test_a_drop_on_a_fresh_connection_is_not_resent(emulator: Emulator) -> None:
    emulator.fault("drop,count=1")
    with pytest.raises(TransportError) as caught:
        rank(emulator)
    assert (
        str(caught.value)
        == f'send POST request: Post "{emulator.base_url}/v1/retrieval/nvidia/reranking": EOF'
    )
    assert len(emulator.state.requests) == 1


def test_a_drop_on_a_pooled_connection_is_resent(emulator: Emulator) -> None:
    with Client(KEY, 5.0) as client:
        client.rank(QUERY, DOCS, emulator.cfg())
        emulator.fault("drop,count=1")
        scores = [s.score for s in client.rank(QUERY, DOCS, emulator.cfg()).document_scores]
    assert scores == [pair_logit(QUERY, d) for d in DOCS]
    assert [r.outcome for r in emulator.state.requests] == ["answered", "dropped", "answered"]


@pytest.mark.parametrize("spec", ["slow-body=3000", "latency=3000"])
def test_the_one_deadline_covers_a_slow_server(emulator: Emulator, spec: str) -> None:
    emulator.fault(spec)
    with Client(KEY, 0.3) as client, pytest.raises(DeadlineExceededError) as caught:
        client.rank(QUERY, DOCS, emulator.cfg())
    assert str(caught.value).endswith("context deadline exceeded")


@pytest.mark.parametrize(
    "spec", ["indices=missing", "indices=duplicate", "indices=out-of-range", "indices=negative"]
)
def test_bad_indices_are_typed_errors(emulator: Emulator, spec: str) -> None:
    emulator.fault(spec)
    with pytest.raises(InvalidRankingsError):
        rank(emulator)


@pytest.mark.parametrize(
    "spec", ["unsorted=ascending", "unsorted=shuffled", "deprecation=2026-12-01"]
)
def test_order_and_extra_headers_do_not_change_scores(emulator: Emulator, spec: str) -> None:
    emulator.fault(spec)
    if spec.startswith("deprecation"):  # the header also gives a warning (D-EXT-LIFECYCLE)
        with pytest.warns(ModelDeprecationWarning):
            assert rank(emulator) == [pair_logit(QUERY, d) for d in DOCS]
        return
    assert rank(emulator) == [pair_logit(QUERY, d) for d in DOCS]


def test_an_accepted_request_is_not_polled(emulator: Emulator) -> None:
    emulator.fault("accepted")
    with pytest.raises(UpstreamError) as caught:
        rank(emulator)
    assert caught.value.status == 202
    assert "polling is not supported" in str(caught.value)


def test_the_async_client_on_the_emulator(emulator: Emulator) -> None:
    async def go() -> list[float]:
        async with AsyncClient(KEY, 5.0, max_documents=2) as client:
            result = await client.rank(QUERY, DOCS, emulator.cfg())
            return [s.score for s in result.document_scores]

    assert anyio.run(go) == [pair_logit(QUERY, d) for d in DOCS]
    emulator.fault("status=403")

    async def forbidden() -> None:
        async with AsyncClient(KEY, 5.0) as client:
            await client.rank(QUERY, DOCS, emulator.cfg())

    with pytest.raises(UpstreamError):
        anyio.run(forbidden)


def cli(*argv: str, stdin: str) -> tuple[int, str, str]:
    import sys

    out, err = io.StringIO(), io.StringIO()
    original = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    try:
        return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()
    finally:
        sys.stdin = original


def test_the_command_line_on_the_emulator(emulator: Emulator) -> None:
    status, out, err = cli(
        "rerank", "--query", QUERY, "--base-url", emulator.base_url, "--output", "json",
        "--header", f"X-Nvidia-Api-Key: {KEY}", stdin="\n".join(DOCS) + "\n",
    )  # fmt: skip
    assert (status, err) == (0, "")
    results = json.loads(out)["results"]
    assert results[0]["index"] == 2
    assert [r["score"] for r in results] == sorted(
        (pair_logit(QUERY, d) for d in DOCS), reverse=True
    )

    objects = "\n".join(json.dumps({"title": f"t{i}", "text": d}) for i, d in enumerate(DOCS))
    status, out, _ = cli(
        "rerank", "--query", QUERY, "--property", "text", "--base-url", emulator.base_url,
        "--output", "json", "--header", f"X-Nvidia-Api-Key: {KEY}", stdin=objects,
    )  # fmt: skip
    assert status == 0
    assert json.loads(out.splitlines()[0])["title"] == "t2"

    status, out, err = cli(
        "rerank", "--query", QUERY, "--base-url", emulator.base_url,
        "--header", "X-Nvidia-Api-Key: wrong", stdin="doc\n",
    )  # fmt: skip
    assert (status, out) == (1, "")
    assert (
        err
        == "error: connection to NVIDIA API failed with status: 403 error: Authorization failed\n"
    )
