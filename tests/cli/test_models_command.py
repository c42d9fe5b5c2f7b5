"""``reranker-nvidia models``: the models a NIM lists, as a table or JSON."""

from __future__ import annotations

import io
import json

import pytest

from reranker_nvidia.cli.main import main
from tests.support.httptest import Handler, Request, StartServer, Writer

CATALOGUE = {
    "object": "list",
    "data": [
        {"id": "nvidia/llama-nemotron-rerank-1b-v2", "object": "model"},
        {"id": "/opt/nim/mount", "root": "nvidia/llama-3.2-nv-rerankqa-1b-v2"},
    ],
}


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def serving(status: int, body: object) -> Handler:
    def handler(request: Request, w: Writer) -> None:
        if request.path != "/v1/models":
            w.respond(404, "404 page not found")
            return
        w.respond(status, body)

    return handler


def test_a_table_of_id_and_root(http_server: StartServer) -> None:
    server = http_server(serving(200, CATALOGUE))
    status, out, err = cli("models", "--base-url", server.url)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "id                                  root",
        "----------------------------------  ----------------------------------",
        "nvidia/llama-nemotron-rerank-1b-v2  -",
        "/opt/nim/mount                      nvidia/llama-3.2-nv-rerankqa-1b-v2",
    ]
    assert server.requests[0].method == "GET"
    assert "Authorization" not in server.requests[0].headers


def test_json(http_server: StartServer) -> None:
    server = http_server(serving(200, CATALOGUE))
    status, out, _ = cli("models", "--base-url", server.url + "/", "--json")
    assert status == 0
    assert json.loads(out) == {
        "models": [
            {"id": "nvidia/llama-nemotron-rerank-1b-v2", "root": None},
            {"id": "/opt/nim/mount", "root": "nvidia/llama-3.2-nv-rerankqa-1b-v2"},
        ]
    }


def test_the_key_comes_from_the_variable_named(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server(serving(200, CATALOGUE))
    monkeypatch.setenv("MY_NIM_KEY", "nim-key")
    monkeypatch.setenv("NVIDIA_APIKEY", "not-this-one")
    assert cli("models", "--base-url", server.url, "--api-key-env", "MY_NIM_KEY")[0] == 0
    assert server.requests[0].headers["Authorization"] == "Bearer nim-key"


def test_a_missing_key_variable_is_one_line() -> None:
    status, out, err = cli("models", "--base-url", "http://127.0.0.1:9", "--api-key-env", "NOPE")
    assert (status, out) == (1, "")
    assert err == "error: --api-key-env: environment variable NOPE is not set\n"


def test_an_error_status_is_one_line(http_server: StartServer) -> None:
    server = http_server(serving(401, {"detail": "Unauthorized"}))
    status, out, err = cli("models", "--base-url", server.url)
    assert (status, out) == (1, "")
    assert err == f"error: list models: {server.url}/v1/models answered status 401: Unauthorized\n"


def test_no_server_is_one_line() -> None:
    status, _, err = cli("models", "--base-url", "http://127.0.0.1:9", "--timeout", "5")
    assert status == 1
    assert err.startswith('error: send GET request: Get "http://127.0.0.1:9/v1/models": dial tcp')
    assert err.count("\n") == 1


def test_an_empty_list(http_server: StartServer) -> None:
    server = http_server(serving(200, {"object": "list", "data": []}))
    assert cli("models", "--base-url", server.url) == (0, "", "no models listed\n")


def test_base_url_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["models"])
    assert caught.value.code == 2
    assert "--base-url" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["models", "--help"])
    text = capsys.readouterr().out
    assert "root" in text
    assert "--api-key-env" in text
    assert "--json" in text
