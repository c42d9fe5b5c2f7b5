"""Listing /v1/models: id and root, typed errors, no key unless one is given."""

from __future__ import annotations

import httpx
import pytest

from reranker_nvidia.errors import ResponseParseError, TransportError, UpstreamError
from reranker_nvidia.extensions.models import NimModel, list_models, models_url, parse_models


def serving(
    status: int, body: object, seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def test_the_url() -> None:
    assert models_url("http://nim:8000/") == "http://nim:8000/v1/models"


def test_id_and_root_in_the_nims_order() -> None:
    seen: list[httpx.Request] = []
    body = {
        "object": "list",
        "data": [
            {"id": "nvidia/llama-nemotron-rerank-1b-v2", "object": "model"},
            {"id": "/opt/nim/model", "root": "nvidia/llama-3.2-nv-rerankqa-1b-v2", "owned_by": "x"},
        ],
    }
    got = list_models("http://nim:8000", transport=serving(200, body, seen))
    assert got == [
        NimModel("nvidia/llama-nemotron-rerank-1b-v2"),
        NimModel("/opt/nim/model", "nvidia/llama-3.2-nv-rerankqa-1b-v2", "x"),
    ]
    assert (seen[0].method, str(seen[0].url)) == ("GET", "http://nim:8000/v1/models")
    assert "authorization" not in seen[0].headers


def test_a_key_is_sent_only_when_given() -> None:
    seen: list[httpx.Request] = []
    list_models("http://nim", api_key="k-123", transport=serving(200, {"data": []}, seen))
    assert seen[0].headers["authorization"] == "Bearer k-123"


def test_a_status_other_than_200_is_an_upstream_error_with_its_detail() -> None:
    transport = serving(404, {"detail": "Not Found"})
    with pytest.raises(UpstreamError) as caught:
        list_models("http://nim", transport=transport)
    assert str(caught.value) == "list models: http://nim/v1/models answered status 404: Not Found"
    assert caught.value.status == 404


def test_the_key_never_shows_in_an_error() -> None:
    transport = serving(401, {"detail": "bad key k-secret-1"})
    with pytest.raises(UpstreamError) as caught:
        list_models("http://nim", api_key="k-secret-1", transport=transport)
    assert "k-secret-1" not in str(caught.value)


def test_no_connection_is_a_transport_error() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    with pytest.raises(TransportError) as caught:
        list_models("http://127.0.0.1:9", transport=httpx.MockTransport(refused))
    assert str(caught.value).startswith('send GET request: Get "http://127.0.0.1:9/v1/models": ')
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"[]", 'no "data" list of models'),
        (b'{"data": {}}', 'no "data" list of models'),
        (b'{"data": [{"root": "x"}]}', 'model 0 has no string "id"'),
        (b'{"data": ["m"]}', 'model 0 has no string "id"'),
    ],
)
def test_a_body_that_is_not_a_model_list(body: bytes, reason: str) -> None:
    with pytest.raises(ResponseParseError) as caught:
        parse_models(body)
    assert str(caught.value).startswith(f"failed to parse models response (status 200): {reason}")


def test_a_root_that_is_not_a_string_is_ignored() -> None:
    assert parse_models(b'{"data": [{"id": "m", "root": 3}]}') == [NimModel("m")]
