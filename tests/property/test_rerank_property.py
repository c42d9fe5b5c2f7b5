"""Properties 1 and 2: the ``rerank`` additional property sorts stably and only adds scores.

The whole path runs: ReRankerProvider → Client → a fake NVIDIA server
(``httpx.MockTransport``) that scores passage ``i`` with a score Hypothesis
drew, and lists the rankings in an order Hypothesis drew too.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import Client, SearchResult
from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult as AdditionalRank
from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from tests.property._support import PROPERTY, finite_floats, small_json, table_server

# A small set of scores, so that most pages hold ties (0.0 and -0.0 tie too).
TIED_SCORES = st.sampled_from([-7.5, -1.0, -0.0, 0.0, 0.25, 3.0, 1e300])
SCORES = st.one_of(TIED_SCORES, TIED_SCORES, finite_floats)

ADDITIONAL_KEYS = st.one_of(
    st.sampled_from(["id", "distance", "certainty", "score", "explainScore", "rerank"]),
    st.text(max_size=4),
)


@st.composite
def graphql_objects(draw: st.DrawFn, rich: bool) -> dict[str, Any]:
    """A Weaviate GraphQL ``Get`` object: maybe ``text``; if ``rich``, more properties
    and maybe an ``_additional`` object."""
    obj: dict[str, Any] = {}
    text = draw(st.one_of(st.none(), st.text(max_size=8), small_json))
    if text is not None:
        obj["text"] = text
    if not rich:
        return obj
    names = st.sampled_from(["title", "id", "count", "Text", "tags", ""])
    obj.update(draw(st.dictionaries(names, small_json, max_size=3)))
    if draw(st.booleans()):
        obj["_additional"] = draw(st.dictionaries(ADDITIONAL_KEYS, small_json, max_size=3))
    return obj


@st.composite
def pages(
    draw: st.DrawFn, rich: bool = False, max_size: int = 25
) -> tuple[list[dict[str, Any]], list[float], list[int]]:
    """Objects, the server's score for each one, and the order the server lists them in."""
    objects = draw(st.lists(graphql_objects(rich), min_size=1, max_size=max_size))
    scores = draw(st.lists(SCORES, min_size=len(objects), max_size=len(objects)))
    order = draw(st.permutations(range(len(objects))))
    return objects, scores, order


def rerank(
    objects: list[dict[str, Any]], scores: list[float], order: list[int]
) -> tuple[list[SearchResult], list[SearchResult]]:
    """The input results and the provider's output for them."""
    results = [SearchResult.from_json(obj) for obj in objects]
    server = table_server(scores, order)
    with Client("key", transport=server.transport()) as client:
        out = ReRankerProvider(client).additional_property_fn(
            results, Params(property="text", query="q"), None, None, None
        )
    assert len(server.requests) == 1
    return results, out


# 200 pages of 1–25 objects: with 7 distinct common scores nearly every page
# has ties (and 0.0/-0.0 pairs), which is what stability needs; each example
# is one in-process request, so this costs about a second.
@settings(PROPERTY, max_examples=200)
@given(pages())
def test_scores_never_increase_and_ties_keep_input_order(
    page: tuple[list[dict[str, Any]], list[float], list[int]],
) -> None:
    objects, scores, order = page
    results, out = rerank(objects, scores, order)
    position = {id(result): i for i, result in enumerate(results)}
    out_scores = [item.additional_properties["rerank"][0].score for item in out]  # type: ignore[index]
    for i in range(len(out) - 1):
        assert out_scores[i] >= out_scores[i + 1], (out_scores, i)
        if out_scores[i] == out_scores[i + 1]:
            assert position[id(out[i])] < position[id(out[i + 1])], "equal scores reordered"
    # Each result carries the score the server gave its passage.
    for item in out:
        assert out_scores[out.index(item)] == scores[position[id(item)]]


# 150 examples of up to 12 results each: about a thousand results with assorted
# properties and _additional members (or none), checked one by one.
@settings(PROPERTY, max_examples=150)
@given(pages(rich=True, max_size=12), st.booleans())
def test_only_rerank_is_added_and_the_output_is_a_permutation(
    page: tuple[list[dict[str, Any]], list[float], list[int]], integer_logits: bool
) -> None:
    objects, scores, order = page
    if integer_logits:  # a server may write a logit as a JSON integer
        scores = [float(int(max(min(s, 1e15), -1e15))) for s in scores]
        sent: list[Any] = [int(s) for s in scores]
    else:
        sent = scores
    before = [copy.deepcopy(SearchResult.from_json(obj).to_json()) for obj in objects]
    results, out = rerank(objects, sent, order)
    input_order = [id(r) for r in results]

    # A permutation of the very same objects: nothing lost, nothing duplicated.
    assert len(out) == len(results)
    assert sorted(id(r) for r in out) == sorted(input_order)
    assert [id(r) for r in results] == input_order  # the caller's list keeps its order

    for i, result in enumerate(results):
        rank = result.additional_properties["rerank"]  # type: ignore[index]
        assert rank == [AdditionalRank(score=scores[i])]
        assert type(rank[0].score) is float
        after = result.to_json()
        entry = after["_additional"].pop("rerank")
        assert entry == [{"score": scores[i]}]
        assert type(entry[0]["score"]) is float
        if "_additional" not in before[i]:
            assert after.pop("_additional") == {}
        expected = copy.deepcopy(before[i])
        expected.get("_additional", {}).pop("rerank", None)
        assert after == expected
