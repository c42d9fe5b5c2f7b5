"""Property 3: scores are placed by ``index``; the server's order of ``rankings`` never matters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import Client, DocumentScore
from reranker_nvidia.clients.ranker import Ranking, to_document_scores
from tests.property._support import PROPERTY, finite_floats, table_server


@st.composite
def ranked_pages(draw: st.DrawFn) -> tuple[list[str], list[float], list[int]]:
    """Documents, the logit of each, and a shuffled order of the rankings."""
    documents = draw(st.lists(st.text(max_size=6), min_size=1, max_size=40))
    logits = draw(
        st.lists(
            st.one_of(st.sampled_from([0.0, -0.0, 1.0, -2.5]), finite_floats),
            min_size=len(documents),
            max_size=len(documents),
        )
    )
    order = draw(st.permutations(range(len(documents))))
    return documents, logits, order


def expected(documents: list[str], logits: list[float]) -> list[DocumentScore]:
    return [DocumentScore(d, s) for d, s in zip(documents, logits, strict=True)]


# 150 examples through the client: one in-process request each for the
# shuffled and for the sorted answer; permutations of up to 40 rankings.
@settings(PROPERTY, max_examples=150)
@given(ranked_pages())
def test_any_order_of_rankings_gives_the_same_scores(
    page: tuple[list[str], list[float], list[int]],
) -> None:
    documents, logits, order = page
    shuffled = table_server(logits, order)
    in_order = table_server(logits, range(len(documents)))
    with (
        Client("k", transport=shuffled.transport()) as a,
        Client("k", transport=in_order.transport()) as b,
    ):
        got = a.rank("q", documents).document_scores
        reference = b.rank("q", documents).document_scores
    assert got == reference == expected(documents, logits)
    # The signs of zero survive too (-0.0 == 0.0, so compare them apart).
    assert [str(s.score) for s in got] == [str(s.score) for s in reference]


# 500 examples of the pure function (microseconds each): many more orders.
@settings(PROPERTY, max_examples=500)
@given(ranked_pages())
def test_to_document_scores_ignores_the_order_of_rankings(
    page: tuple[list[str], list[float], list[int]],
) -> None:
    documents, logits, order = page
    rankings = [Ranking(index=i, logit=logits[i]) for i in order]
    assert to_document_scores(documents, rankings) == expected(documents, logits)
