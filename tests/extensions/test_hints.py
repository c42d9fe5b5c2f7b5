"""Where a hint goes, and the hint for a base URL that ends in ``/v1``.

The rule (D-EXT-ENDPOINT): every hint is ``err.hint``; the message is Go's on Go's route, and
ends with ``; <hint>`` only when an ``endpoint`` or ``truncate`` is set. A base URL in the form
LangChain, LlamaIndex and NVIDIA's docs use (``http://host:8000/v1``) makes every route
``/v1/v1/…``: its 404 says to drop the ``/v1``, whatever the route, where each route's hint
pointed at another route.
"""

from __future__ import annotations

import pytest

from reranker_nvidia import ClassBasedModuleConfig, Client
from reranker_nvidia.errors import UpstreamError
from tests.support.httptest import Request, StartServer, TestServer, Writer


def page_not_found(request: Request, w: Writer) -> None:
    w.respond(404, "404 page not found", {"Content-Type": "text/plain"})


@pytest.fixture
def nim(http_server: StartServer) -> TestServer:
    return http_server(page_not_found)


def failure(base_url: str, **extensions: object) -> UpstreamError:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": base_url})
    with Client("k", **extensions) as client, pytest.raises(UpstreamError) as caught:
        client.rank("q", ["a"], cfg)
    return caught.value


def v1_hint(server: TestServer, route: str) -> str:
    return (
        f"the base URL ends in /v1, which the route adds itself ({route}): "
        f"drop the /v1, base URL {server.url}"
    )


def test_gos_route_keeps_gos_message_and_says_to_drop_v1_in_the_hint(nim: TestServer) -> None:
    err = failure(nim.url + "/v1")
    assert str(err) == "connection to NVIDIA API failed with status: 404 error: 404 page not found"
    assert err.hint == v1_hint(nim, "/v1/v1/retrieval/nvidia/reranking")
    assert nim.requests[0].path == "/v1/v1/retrieval/nvidia/reranking"


@pytest.mark.parametrize(
    ("endpoint", "route"),
    [
        ("ranking", "/v1/v1/ranking"),
        ("model", "/v1/v1/retrieval/nvidia/rerank-qa-mistral-4b/reranking"),
    ],
)
def test_every_route_says_to_drop_v1_not_to_try_another_route(
    nim: TestServer, endpoint: str, route: str
) -> None:
    err = failure(nim.url + "/v1/", endpoint=endpoint)
    assert err.hint == v1_hint(nim, route)
    assert str(err) == (
        "connection to NVIDIA API failed with status: 404 error: 404 page not found; " + err.hint
    )


def test_a_base_url_without_v1_keeps_the_route_hint(nim: TestServer) -> None:
    err = failure(nim.url, endpoint="ranking")
    assert err.hint is not None and 'set endpoint "model"' in err.hint
    assert "/v1," not in err.hint
