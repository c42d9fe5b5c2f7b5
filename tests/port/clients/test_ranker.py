"""Twin of modules/reranker-nvidia/clients/ranker_test.go (``TestGetScore``), case by case.

Go's ``httptest.NewServer`` is the ``http_server`` fixture: a real loopback server.
"""

from __future__ import annotations

import pytest

from reranker_nvidia.clients.ranker import Client
from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult
from tests.support.fakes import FakeClassConfig, rankings
from tests.support.httptest import Request, StartServer, Writer


class CrossRankerHandler:
    """Go's ``testCrossRankerHandler``."""

    def __init__(
        self,
        res: dict[str, object] | None = None,
        batched_results: list[dict[str, object]] | None = None,
        error402: dict[str, object] | None = None,
    ) -> None:
        self.res = res or {}
        self.batched_results = batched_results or []
        self.error402 = error402

    def __call__(self, request: Request, writer: Writer) -> None:
        assert request.method == "POST"
        if self.error402 is not None:
            writer.respond(402, self.error402)
            return
        passages = [p["text"] for p in request.json()["passages"]]
        response = self.res
        if self.batched_results:
            index = 0
            if "Response 3" in passages:
                index = 1
            if "Response 5" in passages:
                index = 2
            if "Response 7" in passages:
                index = 3
            response = self.batched_results[index]
        writer.respond(200, response)


def test_when_the_server_has_a_successful_answer(http_server: StartServer) -> None:
    server = http_server(CrossRankerHandler(res=rankings((0, 0.15))))
    cfg = FakeClassConfig({"Model": "large", "baseURL": server.url})

    with Client("key", 0) as client:
        res = client.rank("Where do I work?", ["I work at Apple"], cfg)

    assert res == RankResult(
        query="Where do I work?",
        document_scores=[DocumentScore(document="I work at Apple", score=0.15)],
    )


def test_when_the_server_has_an_error(http_server: StartServer) -> None:
    server = http_server(CrossRankerHandler(error402={"detail": "some error from the server"}))
    cfg = FakeClassConfig({"Model": "large", "baseURL": server.url})

    with Client("key", 0) as client, pytest.raises(Exception) as caught:
        client.rank("prop", ["I work at Apple"], cfg)

    assert "some error from the server" in str(caught.value)


def test_when_we_send_requests_in_batches(http_server: StartServer) -> None:
    server = http_server(
        CrossRankerHandler(
            batched_results=[
                rankings((0, 0.99), (1, 0.89)),
                rankings((0, 0.299), (1, 0.289)),
                rankings((0, 0.199), (1, 0.189)),
                rankings((0, 0.0001)),
            ]
        )
    )
    query = "Where do I work?"
    documents = [f"Response {i}" for i in range(1, 8)]
    cfg = FakeClassConfig({"Model": "large", "baseURL": server.url})

    with Client("apiKey", 0, max_documents=2) as client:
        resp = client.rank(query, documents, cfg)

    assert resp is not None
    assert resp.document_scores
    for i, document_score in enumerate(resp.document_scores):
        assert document_score.document == documents[i]
        if i == 0:
            assert document_score.score == 0.99
        if i == len(documents) - 1:
            assert document_score.score == 0.0001
