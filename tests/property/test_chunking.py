"""Property 4: chunking and concurrency never change the result.

The fake server scores a passage from its text and the query alone
(:func:`stable_score`), so any difference between a chunked and a single
request would be the client's doing.
"""

from __future__ import annotations

import math

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import AsyncClient, Client, DocumentScore
from reranker_nvidia.clients.ranker import chunk_documents
from tests.property._support import PROPERTY, Recorder, scoring_server, stable_score

DOCUMENTS = st.lists(st.text(max_size=8), max_size=60)
QUERIES = st.text(max_size=8)
MAX_DOCUMENTS = st.integers(min_value=1, max_value=70)
MAX_CONCURRENCY = st.integers(min_value=1, max_value=8)


def check_requests(
    server: Recorder, query: str, documents: list[str], max_documents: int, progress: list[int]
) -> None:
    """ceil(n / max_documents) requests, none too big, together exactly the chunks."""
    n = len(documents)
    assert len(server.bodies) == math.ceil(n / max_documents)
    sent = [[p["text"] for p in body["passages"]] for body in server.bodies]
    assert all(1 <= len(chunk) <= max_documents for chunk in sent)
    assert sorted(sent) == sorted(chunk_documents(documents, max_documents))
    assert all(body["query"] == {"text": query} for body in server.bodies)
    # One progress report per chunk, the last one (in value) being all documents.
    assert len(progress) == len(sent)
    assert max(progress, default=n) == n


# 300 examples: n (0..60) × max_documents (1..70) × max_concurrency (1..8) covers
# one chunk, exact multiples, a last short chunk, one document per chunk and
# more workers than chunks; each example spends a few ms in threads.
@settings(PROPERTY, max_examples=300)
@given(DOCUMENTS, QUERIES, MAX_DOCUMENTS, MAX_CONCURRENCY)
def test_sync_chunked_result_equals_single_request(
    documents: list[str], query: str, max_documents: int, max_concurrency: int
) -> None:
    single, chunked = scoring_server(), scoring_server()
    progress: list[int] = []
    with (
        Client("k", transport=single.transport()) as one,
        Client(
            "k",
            transport=chunked.transport(),
            max_documents=max_documents,
            max_concurrency=max_concurrency,
        ) as many,
    ):
        reference = one.rank(query, documents)
        got = many.rank(query, documents, on_progress=lambda done, total: progress.append(done))
    assert got == reference
    assert got.document_scores == [DocumentScore(d, stable_score(query, d)) for d in documents]
    assert len(single.bodies) == (1 if documents else 0)
    check_requests(chunked, query, documents, max_documents, progress)


# 150 examples: the same space through AsyncClient; each example starts its own
# event loop (anyio.run) and runs up to 8 tasks at once.
@settings(PROPERTY, max_examples=150)
@given(DOCUMENTS, QUERIES, MAX_DOCUMENTS, MAX_CONCURRENCY)
def test_async_chunked_result_equals_single_request(
    documents: list[str], query: str, max_documents: int, max_concurrency: int
) -> None:
    single, chunked = scoring_server(), scoring_server()
    progress: list[int] = []

    async def main() -> None:
        async with (
            AsyncClient("k", transport=single.transport()) as one,
            AsyncClient(
                "k",
                transport=chunked.transport(),
                max_documents=max_documents,
                max_concurrency=max_concurrency,
            ) as many,
        ):
            reference = await one.rank(query, documents)
            got = await many.rank(
                query, documents, on_progress=lambda done, total: progress.append(done)
            )
        assert got == reference
        expected = [DocumentScore(d, stable_score(query, d)) for d in documents]
        assert got.document_scores == expected

    anyio.run(main)
    check_requests(chunked, query, documents, max_documents, progress)
