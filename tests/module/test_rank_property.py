"""The rerank additional property beyond Go's own tests: every step of getScore."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import graphql
import httpx
import pytest

from reranker_nvidia import AsyncClient
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.errors import ClientRankError, ConfigError, ParamsError, RerankerError
from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult as AdditionalRank
from reranker_nvidia.modulecomponents.additional.provider_ranker import new_ranker_provider
from reranker_nvidia.modulecomponents.additional.rank.rank import (
    AsyncReRankerProvider,
    ReRankerProvider,
)
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from tests.support.fakes import AsyncFakeRankClient, FakeRankClient


def results(*values: object) -> list[SearchResult]:
    return [
        SearchResult(schema={"text": v} if v is not ... else {}, id=f"id-{i}")
        for i, v in enumerate(values)
    ]


def scores(ranked: Sequence[SearchResult]) -> list[float | None]:
    out = []
    for result in ranked:
        assert result.additional_properties is not None
        out.append(result.additional_properties["rerank"][0].score)
    return out


def test_no_results_means_no_call_and_no_results() -> None:
    client = FakeRankClient()
    assert ReRankerProvider(client).additional_property_fn([], Params(property="text")) == []
    assert ReRankerProvider(client).additional_property_fn([], None) == []
    assert client.calls == []


def test_missing_params_is_gos_error() -> None:
    with pytest.raises(ParamsError, match=r"^no params provided$") as caught:
        ReRankerProvider(FakeRankClient()).additional_property_fn(results("a"), None)
    assert caught.value.results is None


def test_params_of_another_type_are_wrong_parameters() -> None:
    with pytest.raises(ParamsError, match=r"^wrong parameters$"):
        ReRankerProvider(FakeRankClient()).additional_property_fn(
            results("a"), {"property": "text"}
        )


def test_non_string_values_become_empty_documents_and_the_query_defaults_to_empty() -> None:
    client = FakeRankClient()
    in_ = [
        *results("a", 42, None, ["x"], {"k": "v"}, True, ...),
        SearchResult(schema=None),
        SearchResult(schema={"Text": "case differs"}),
    ]
    ReRankerProvider(client).additional_property_fn(in_, Params(property="text"))
    ((query, documents, _, _),) = client.calls
    assert query == ""
    assert documents == ["a", "", "", "", "", "", "", "", ""]


def test_the_property_id_always_reads_empty_as_gos_object_drops_it() -> None:
    client = FakeRankClient()
    in_ = [SearchResult(schema={"id": "visible", "text": "t"})]
    ReRankerProvider(client).additional_property_fn(in_, Params(property="id", query="q"))
    assert client.calls[0][1] == [""]
    assert in_[0].schema == {"id": "visible", "text": "t"}  # not deleted (D-RANK-ID)


def test_results_are_sorted_descending_stably_into_a_new_list() -> None:
    client = FakeRankClient({"b": 2.0, "c": 2.0, "d": -1.0, "e": 5.0})
    in_ = results("a", "b", "c", "d", "e", "f")
    ranked = ReRankerProvider(client).additional_property_fn(
        in_, Params(property="text", query="q")
    )
    assert [r.schema["text"] for r in ranked] == ["e", "b", "c", "a", "f", "d"]  # type: ignore[index]
    assert scores(ranked) == [5.0, 2.0, 2.0, 0.0, 0.0, -1.0]
    # The caller's list keeps its order; the results themselves carry the score.
    assert [r.schema["text"] for r in in_] == ["a", "b", "c", "d", "e", "f"]  # type: ignore[index]
    assert ranked[0] is in_[4]


def test_existing_additional_properties_are_kept() -> None:
    in_ = [
        SearchResult(schema={"text": "a"}, additional_properties={"distance": 0.1, "rerank": "old"})
    ]
    ReRankerProvider(FakeRankClient({"a": 1.5})).additional_property_fn(
        in_, Params(property="text")
    )
    assert in_[0].additional_properties == {"distance": 0.1, "rerank": [AdditionalRank(score=1.5)]}


def test_headers_reach_the_client() -> None:
    client = FakeRankClient()
    ReRankerProvider(client).additional_property_fn(
        results("a"), Params(property="text"), headers={"X-Nvidia-Api-Key": "k"}
    )
    assert client.calls[0].headers == {"X-Nvidia-Api-Key": "k"}


def test_a_client_error_is_wrapped_and_typed() -> None:
    failing = FakeRankClient(
        error=RerankerError("connection to NVIDIA API failed with status: 500")
    )
    with pytest.raises(ClientRankError) as caught:
        ReRankerProvider(failing).additional_property_fn(results("a"), Params(property="text"))
    assert str(caught.value) == "client rank: connection to NVIDIA API failed with status: 500"
    assert str(caught.value.cause) == "connection to NVIDIA API failed with status: 500"


def test_fewer_scores_than_results_is_an_error_not_a_panic() -> None:
    with pytest.raises(ClientRankError) as caught:
        ReRankerProvider(FakeRankClient(short=True)).additional_property_fn(
            results("a", "b"), Params(property="text")
        )
    assert str(caught.value) == "client rank: the client returned 1 scores for 2 documents"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_async_twin_gives_the_same_answer(anyio_backend: str) -> None:
    table = {"b": 3.0, "a": 1.0}
    sync_ranked = ReRankerProvider(FakeRankClient(table)).additional_property_fn(
        results("a", "b", "c"), Params(property="text", query="q")
    )
    async_client = AsyncFakeRankClient(table)
    async_ranked = await AsyncReRankerProvider(async_client).additional_property_fn_async(
        results("a", "b", "c"), Params(property="text", query="q")
    )
    assert [r.to_json() for r in sync_ranked] == [r.to_json() for r in async_ranked]
    assert async_client.calls == [("q", ["a", "b", "c"], None, None)]
    provider = AsyncReRankerProvider(AsyncFakeRankClient())
    assert await provider.additional_property_fn_async([], None) == []
    with pytest.raises(ParamsError, match="wrong parameters"):
        await provider.additional_property_fn_async(results("a"), "x")
    with pytest.raises(ParamsError, match="no properties provided"):
        await provider.additional_property_fn_async(results("a"), Params())


def test_each_provider_has_only_its_own_way_to_rank() -> None:
    # One provider per kind of client: nothing has to guess whether rank() must be awaited.
    assert not hasattr(ReRankerProvider(), "additional_property_fn_async")
    assert not hasattr(AsyncReRankerProvider(AsyncFakeRankClient()), "additional_property_fn")


def test_the_sync_provider_with_an_async_client_names_the_async_method() -> None:
    client = AsyncClient("k", transport=httpx.MockTransport(lambda _: httpx.Response(500)))
    provider = ReRankerProvider(client)  # type: ignore[arg-type]
    results = [SearchResult(schema={"text": "a"})]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no "coroutine was never awaited"
        with pytest.raises(TypeError) as caught:
            provider.additional_property_fn(results, Params(property="text", query="q"))
    assert "AsyncReRankerProvider(client).additional_property_fn_async" in str(caught.value)
    assert AsyncReRankerProvider(client) is not None


def test_the_graphql_helpers_need_no_client_but_ranking_does() -> None:
    provider = ReRankerProvider()
    assert provider.extract_additional_fn([]) == Params()
    assert provider.additional_field_fn("Books") is not None
    with pytest.raises(ParamsError, match="wrong parameters"):  # checked first, as in Go
        provider.additional_property_fn(results("a"), "x")
    with pytest.raises(ConfigError, match="no client"):
        provider.additional_property_fn(results("a"), Params(property="text"))


def test_the_async_provider_serves_the_same_graphql_helpers() -> None:
    sync, async_ = ReRankerProvider(), AsyncReRankerProvider(AsyncFakeRankClient())
    assert async_.additional_property_default_value() == sync.additional_property_default_value()
    args = parse_arguments('(property: "p", query: "q")')
    assert async_.extract_additional_fn(args) == sync.extract_additional_fn(args)
    assert async_.additional_field_fn("Books").type.of_type.name == "BooksAdditionalReranker"


def test_params_helpers() -> None:
    assert Params().get_properties_to_extract() == []
    assert Params(property="p").get_properties_to_extract() == ["p"]
    assert (Params().get_query(), Params().get_property()) == ("", "")
    assert ReRankerProvider(None).additional_property_default_value() == Params()


def parse_arguments(source: str) -> list[graphql.ArgumentNode]:
    document = graphql.parse(
        f"{{ Get {{ Books {{ _additional {{ rerank{source} {{ score }} }} }} }} }}"
    )
    field = document.definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]
    books = field.selection_set.selections[0]
    additional = books.selection_set.selections[0]
    return list(additional.selection_set.selections[0].arguments)


def test_arguments_come_from_a_parsed_graphql_query() -> None:
    args = parse_arguments(
        '(property: "description", query: "Who is the author of Dune?", other: 1)'
    )
    assert ReRankerProvider(None).extract_additional_fn(args) == Params(
        property="description", query="Who is the author of Dune?"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("(query: 42)", 'rerank argument "query" must be a string literal, not int value'),
        ("(property: $p)", 'rerank argument "property" must be a string literal, not variable'),
        ('(query: ["a"])', 'rerank argument "query" must be a string literal, not list value'),
    ],
)
def test_non_string_arguments_are_an_error_not_a_panic(source: str, message: str) -> None:
    with pytest.raises(ParamsError) as caught:
        ReRankerProvider(None).extract_additional_fn(parse_arguments(source))
    assert str(caught.value) == message


def test_the_provider_registers_rerank_for_get_and_list() -> None:
    client = FakeRankClient({"x": 1.0})
    properties = new_ranker_provider(client).additional_properties()
    assert list(properties) == ["rerank"]
    rerank = properties["rerank"]
    assert rerank.graphql_names == ("rerank",)
    assert rerank.search_functions.explore_get is not None
    assert rerank.search_functions.explore_list is not None
    assert rerank.search_functions.object_get is None
    ranked = rerank.search_functions.explore_get(
        results("x"), Params(property="text"), None, None, None
    )
    assert scores(ranked) == [1.0]
    assert rerank.graphql_field_function is not None
    assert rerank.graphql_field_function("Books").type.of_type.name == "BooksAdditionalReranker"
    assert rerank.graphql_extract_function is not None
    assert rerank.graphql_extract_function([], None) == Params()


def test_rank_result_json_omits_an_unset_score() -> None:
    assert AdditionalRank(score=0.0).to_json() == {"score": 0.0}
    assert AdditionalRank().to_json() == {}
