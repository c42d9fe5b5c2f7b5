"""The command line's one rule for a hint: its own ``hint:`` line, never the end of the
``error:`` line, whatever the settings (D-EXT-ENDPOINT)."""

from __future__ import annotations

import pytest

from tests.cli._support import cli
from tests.support.httptest import Request, StartServer, TestServer, Writer

KEY = ("--header", "X-Nvidia-Api-Key: k")
NOT_FOUND = "error: connection to NVIDIA API failed with status: 404 error: 404 page not found\n"


def page_not_found(request: Request, w: Writer) -> None:
    w.respond(404, "404 page not found", {"Content-Type": "text/plain"})


@pytest.fixture
def nim(http_server: StartServer) -> TestServer:
    return http_server(page_not_found)


@pytest.mark.parametrize(
    ("flags", "route"),
    [
        ((), "/v1/v1/retrieval/nvidia/reranking"),
        (("--endpoint", "ranking"), "/v1/v1/ranking"),
        (("--endpoint", "model"), "/v1/v1/retrieval/nvidia/rerank-qa-mistral-4b/reranking"),
        (("--truncate", "END"), "/v1/v1/retrieval/nvidia/reranking"),
    ],
    ids=["go-route", "ranking", "model", "truncate"],
)
def test_a_base_url_ending_in_v1_gets_one_hint_on_its_own_line(
    nim: TestServer, flags: tuple[str, ...], route: str
) -> None:
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url + "/v1", *KEY, *flags, stdin=b"a\n"
    )
    assert (status, out) == (1, "")
    assert err == NOT_FOUND + (
        f"hint: the base URL ends in /v1, which the route adds itself ({route}): "
        f"drop the /v1, base URL {nim.url}\n"
    )


def test_the_hint_of_a_search_results_rerank_is_on_its_own_line(nim: TestServer) -> None:
    status, _, err = cli(
        "rerank", "--query", "q", "--property", "t", "--base-url", nim.url, *KEY,
        "--endpoint", "ranking", stdin=b'{"t": "a"}\n',
    )  # fmt: skip
    assert status == 1
    error, hint = err.splitlines()
    assert error == "error: client rank: " + NOT_FOUND.removeprefix("error: ").rstrip("\n")
    assert hint.startswith("hint: this base URL serves no /v1/ranking; ")
