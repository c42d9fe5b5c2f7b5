"""The clients' arguments: a wrong type is a TypeError naming the argument, and the timeout
defaults to ``MODULES_CLIENT_TIMEOUT`` when none is given."""

from __future__ import annotations

import json

import httpx
import pytest

from reranker_nvidia import AsyncClient, Client


def ok_client() -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        passages = json.loads(request.content)["passages"]
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": -i} for i in range(len(passages))]}
        )

    return Client("k", transport=httpx.MockTransport(answer))


def test_a_dict_as_config_is_a_type_error_naming_cfg() -> None:
    with ok_client() as client, pytest.raises(TypeError, match=r"^cfg must be a ClassConfig"):
        client.rank("q", ["a"], {"baseURL": "http://x"})  # type: ignore[arg-type]


def test_a_generator_of_documents_is_accepted() -> None:
    with ok_client() as client:
        result = client.rank("q", (d for d in ["a", "b"]))
    assert [s.document for s in result.document_scores] == ["a", "b"]


def test_a_bare_string_as_documents_is_a_type_error() -> None:
    with ok_client() as client, pytest.raises(TypeError, match=r"^documents must be"):
        client.rank("q", "abc")


def test_a_document_that_is_not_a_string_is_a_type_error_naming_it() -> None:
    with ok_client() as client, pytest.raises(TypeError, match=r"^documents\[1\] must be a str"):
        client.rank("q", ["a", 2])  # type: ignore[list-item]


# --------------------------------------------------------------------------
# MODULES_CLIENT_TIMEOUT is read when no timeout is given
# --------------------------------------------------------------------------


def test_no_timeout_reads_modules_client_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULES_CLIENT_TIMEOUT", "7s")
    assert Client("k").timeout == 7.0
    assert AsyncClient("k").timeout == 7.0
    assert Client("k", timeout=3).timeout == 3.0
    monkeypatch.delenv("MODULES_CLIENT_TIMEOUT")
    assert Client("k").timeout == 50.0


def _client_config(api_key: object) -> object:
    from reranker_nvidia.bulk import ClientConfig

    return ClientConfig(api_key=api_key)  # type: ignore[arg-type]


def _list_models(api_key: object) -> object:
    from reranker_nvidia.extensions.models import list_models

    return list_models("http://127.0.0.1:9", api_key=api_key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        Client,
        lambda key: Client(api_key=key),
        lambda key: AsyncClient(api_key=key),
        _client_config,
        _list_models,
    ],
    ids=["Client", "Client-keyword", "AsyncClient", "ClientConfig", "list_models"],
)
@pytest.mark.parametrize("key", [["k"], b"k", 7], ids=["list", "bytes", "int"])
def test_an_api_key_that_is_not_a_string_is_a_type_error_naming_it(
    make: object, key: object
) -> None:
    """Before, ``api_key=["k"]`` raised ``AttributeError`` where the key was first used."""
    with pytest.raises(
        TypeError, match=rf"^api_key must be a str or None, not {type(key).__name__}$"
    ):
        make(key)  # type: ignore[operator]
