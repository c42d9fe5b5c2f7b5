"""The client's requests: URL, headers, body, chunks, keys and base URLs (ranker.go)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from reranker_nvidia import ClassBasedModuleConfig, Client, MissingAPIKeyError
from reranker_nvidia.errors import BaseURLError, RequestBuildError, TransportError
from tests.support.dns import FakeResolver
from tests.support.fakes import FakeClassConfig
from tests.support.httptest import Request, StartServer, Writer

MISSING_KEY = (
    "Nvidia API Key: no api key found neither in request header: X-Nvidia-Api-Key "
    "nor in environment variable under NVIDIA_APIKEY"
)


class Recorder:
    """A MockTransport handler that records requests and scores passage i with -i."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        count = len(json.loads(request.content)["passages"])
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": -float(i)} for i in range(count)]}
        )

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


def client_for(recorder: Recorder, **kwargs: Any) -> Client:
    return Client(
        kwargs.pop("api_key", "env-key"), transport=httpx.MockTransport(recorder), **kwargs
    )


def settings(**values: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings("reranker-nvidia", values)


def test_request_is_gos_exact_url_headers_and_body() -> None:
    recorder = Recorder()
    with client_for(recorder) as client:
        client.rank("What are <the> library hours & days?", ["Cafeteria 8-8.", "Library 9-10."])

    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking"
    assert request.headers["Authorization"] == "Bearer env-key"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    # Go's json.Marshal: compact, <>& escaped, no truncate member.
    assert request.content == (
        b'{"model":"nvidia/rerank-qa-mistral-4b","query":{"text":"What are \\u003cthe\\u003e '
        b'library hours \\u0026 days?"},"passages":[{"text":"Cafeteria 8-8."},'
        b'{"text":"Library 9-10."}]}'
    )


def test_class_settings_choose_model_and_base_url() -> None:
    recorder = Recorder()
    cfg = settings(model="nvidia/llama-nemotron-rerank-1b-v2", baseURL="http://nim.example:8000")
    with client_for(recorder) as client:
        client.rank("q", ["d"], cfg)
    (request,) = recorder.requests
    assert str(request.url) == "http://nim.example:8000/v1/retrieval/nvidia/reranking"
    assert recorder.bodies()[0]["model"] == "nvidia/llama-nemotron-rerank-1b-v2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "nvidia/rerank-qa-mistral-4b"),
        ("", ""),
        (42, "nvidia/rerank-qa-mistral-4b"),
        (["m"], "nvidia/rerank-qa-mistral-4b"),
        ({"m": 1}, "nvidia/rerank-qa-mistral-4b"),
        (True, "nvidia/rerank-qa-mistral-4b"),
    ],
)
def test_model_setting_follows_gos_type_switch(value: Any, expected: str) -> None:
    recorder = Recorder()
    with client_for(recorder) as client:
        client.rank("q", ["d"], FakeClassConfig({"model": value}))
    assert recorder.bodies()[0]["model"] == expected


def test_trailing_slashes_of_the_base_url_are_not_doubled() -> None:
    recorder = Recorder()
    with client_for(recorder) as client:
        client.rank("q", ["d"], settings(baseURL="https://ai.api.nvidia.com//"))
    assert (
        str(recorder.requests[0].url) == "https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking"
    )


def test_documents_are_sent_in_chunks_of_512_and_joined_in_order() -> None:
    recorder = Recorder()
    documents = [f"doc {i}" for i in range(1100)]
    with client_for(recorder) as client:
        result = client.rank("q", documents)

    sizes = sorted(len(body["passages"]) for body in recorder.bodies())
    assert sizes == [76, 512, 512]
    assert [s.document for s in result.document_scores] == documents
    # Each chunk scores its passage i with -i, so chunk boundaries show in the scores.
    assert [s.score for s in result.document_scores[510:514]] == [-510.0, -511.0, -0.0, -1.0]


def test_no_documents_means_no_request_and_no_key_needed() -> None:
    recorder = Recorder()
    with client_for(recorder, api_key="") as client:
        result = client.rank("q", [])
    assert result.query == "q"
    assert result.document_scores == []
    assert recorder.requests == []


def test_the_header_key_beats_the_environment_key_whatever_its_letter_case() -> None:
    recorder = Recorder()
    with client_for(recorder) as client:
        client.rank("q", ["d"], headers={"x-NVIDIA-api-KEY": "header-key"})
        client.rank("q", ["d"], headers=[("X-Nvidia-Api-Key", "pair-key")])
        client.rank("q", ["d"], headers={"X-Nvidia-Api-Key": ["", "second"]})
    keys = [r.headers["Authorization"] for r in recorder.requests]
    # An empty first value does not count, and Go never looks at the second.
    assert keys == ["Bearer header-key", "Bearer pair-key", "Bearer env-key"]


def test_the_environment_key_is_read_once_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setenv("NVIDIA_APIKEY", "from-env")
    client = Client(transport=httpx.MockTransport(recorder))
    monkeypatch.setenv("NVIDIA_APIKEY", "changed")
    with client:
        client.rank("q", ["d"])
    assert recorder.requests[0].headers["Authorization"] == "Bearer from-env"


def test_no_key_anywhere_is_gos_error_and_no_request() -> None:
    recorder = Recorder()
    with client_for(recorder, api_key="") as client, pytest.raises(MissingAPIKeyError) as caught:
        client.rank("q", ["d"])
    assert str(caught.value) == MISSING_KEY
    assert recorder.requests == []


def test_base_url_header_overrides_the_class_setting() -> None:
    recorder = Recorder()
    with client_for(recorder) as client:
        client.rank(
            "q",
            ["d"],
            settings(baseURL="https://class.example"),
            headers={"x-nvidia-baseurl": "http://header.example:9000"},
        )
    assert (
        str(recorder.requests[0].url) == "http://header.example:9000/v1/retrieval/nvidia/reranking"
    )


def test_header_base_url_is_validated_when_validation_is_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "on")
    recorder = Recorder()
    client = Client("k", transport=httpx.MockTransport(recorder), resolver=FakeResolver())
    with client:
        for url, message in [
            ("http://public.example", "baseURL must use HTTPS"),
            ("https://10.1.2.3", "baseURL cannot target internal addresses"),
            ("https://metadata.internal", "baseURL cannot target internal addresses"),
            (
                "https://nowhere.example",
                "baseURL host could not be resolved: lookup nowhere.example",
            ),
            ("https://exa mple.com", 'invalid baseURL: parse "https://exa mple.com": invalid'),
        ]:
            with pytest.raises(BaseURLError) as caught:
                client.rank("q", ["d"], headers={"X-Nvidia-Baseurl": url})
            assert str(caught.value).startswith(message)
        client.rank("q", ["d"], headers={"X-Nvidia-Baseurl": "https://public.example"})
    assert [str(r.url) for r in recorder.requests] == [
        "https://public.example/v1/retrieval/nvidia/reranking"
    ]


def test_base_url_errors_come_before_the_missing_key_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
    with Client("", transport=httpx.MockTransport(Recorder())) as client:
        with pytest.raises(BaseURLError):
            client.rank("q", ["d"], headers={"X-Nvidia-Baseurl": "http://x"})
        with pytest.raises(RequestBuildError) as caught:
            client.rank("q", ["d"], settings(baseURL="https://[::1"))
    assert str(caught.value) == (
        'create POST request: parse "https://[::1/v1/retrieval/nvidia/reranking": '
        "missing ']' in host"
    )


def test_a_url_httpx_cannot_send_is_a_build_error() -> None:
    recorder = Recorder()
    with client_for(recorder) as client, pytest.raises(RequestBuildError) as caught:
        # A punycode label that does not decode: Go would try to dial it; httpx refuses the URL.
        client.rank("q", ["d"], settings(baseURL="http://xn--a.example"))
    assert str(caught.value).startswith(
        'create POST request: parse "http://xn--a.example/v1/retrieval/nvidia/reranking": '
    )
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        (
            "",
            'send POST request: Post "/v1/retrieval/nvidia/reranking": unsupported protocol scheme ""',
        ),
        (
            "ftp://files.example",
            'send POST request: Post "ftp://files.example/v1/retrieval/nvidia/reranking": '
            'unsupported protocol scheme "ftp"',
        ),
        (
            "http://",
            'send POST request: Post "http:///v1/retrieval/nvidia/reranking": '
            "http: no Host in request URL",
        ),
    ],
)
def test_urls_no_client_can_send_to_fail_as_in_go(base_url: str, message: str) -> None:
    recorder = Recorder()
    with client_for(recorder) as client, pytest.raises(TransportError) as caught:
        client.rank("q", ["d"], settings(baseURL=base_url))
    assert str(caught.value) == message
    assert recorder.requests == []


def test_at_most_max_concurrency_chunks_are_in_flight(http_server: StartServer) -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def handler(request: Request, w: Writer) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        count = len(request.json()["passages"])
        w.respond(200, {"rankings": [{"index": i, "logit": 1.0} for i in range(count)]})

    server = http_server(handler)
    cfg = settings(baseURL=server.url)
    with Client("k", max_documents=1, max_concurrency=3) as client:
        result = client.rank("q", [str(i) for i in range(9)], cfg)
    assert len(result.document_scores) == 9
    assert len(server.requests) == 9
    assert 2 <= peak <= 3


def test_progress_is_reported_per_chunk() -> None:
    seen: list[tuple[int, int]] = []
    with client_for(Recorder(), max_documents=2, max_concurrency=1) as client:
        client.rank("q", ["a", "b", "c", "d", "e"], on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_settings_out_of_range_are_config_errors() -> None:
    from reranker_nvidia import ConfigError

    with pytest.raises(ConfigError, match="max_documents must be at least 1"):
        Client("k", max_documents=0)
    with pytest.raises(ConfigError, match="max_concurrency must be at least 1"):
        Client("k", max_concurrency=0)


def test_meta_info_and_repr_hide_nothing_but_the_key() -> None:
    with Client("super-secret-key") as client:
        assert client.meta_info() == {
            "name": "Reranker - NVIDIA",
            "documentationHref": "https://docs.api.nvidia.com/nim/reference/retrieval-apis",
        }
        assert "super-secret-key" not in repr(client)
        assert "api_key='***'" in repr(client)
