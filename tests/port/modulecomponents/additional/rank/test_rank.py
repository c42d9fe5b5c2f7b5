"""Twin of usecases/modulecomponents/additional/rank/rank_test.go, case by case."""

from __future__ import annotations

import pytest

from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.errors import ClientRankError, ParamsError
from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult as AdditionalRank
from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from tests.support.fakes import FakeRankClient


def test_should_fail_with_empty_content() -> None:
    # given
    rank_provider = ReRankerProvider(FakeRankClient())
    in_ = [SearchResult(id="some-uuid")]
    fake_params = Params()

    # when
    with pytest.raises(ParamsError) as caught:
        rank_provider.additional_property_fn(in_, fake_params, 1, {}, None)

    # then
    assert caught.value.results  # Go returns the input beside the error
    assert str(caught.value) == "no properties provided"


def test_should_fail_with_empty_params() -> None:
    # given
    rank_provider = ReRankerProvider(FakeRankClient())
    in_ = [SearchResult(id="some-uuid", schema={"content": "content"})]
    fake_params = Params()

    # when
    with pytest.raises(ParamsError) as caught:
        rank_provider.additional_property_fn(in_, fake_params, 1, {}, None)

    # then
    assert caught.value.results
    assert str(caught.value) == "no properties provided"


def test_should_fail_on_cohere_error() -> None:
    rank_provider = ReRankerProvider(FakeRankClient())
    in_ = [SearchResult(id="some-uuid", schema={"content": "this is the content"})]
    fake_params = Params(property="content", query="unavailable")

    with pytest.raises(ClientRankError) as caught:
        rank_provider.additional_property_fn(in_, fake_params, 3, {}, None)

    assert str(caught.value) == "client rank: unavailable"


def test_should_rank() -> None:
    rank_provider = ReRankerProvider(FakeRankClient())
    in_ = [SearchResult(id="some-uuid", schema={"content": "this is the content"})]
    fake_params = Params(property="content", query="this is the query")

    # when
    out = rank_provider.additional_property_fn(in_, fake_params, 1, {}, None)

    # then
    assert out
    assert len(in_) == 1
    assert in_[0].additional_properties is not None
    answer = in_[0].additional_properties["rerank"]
    assert answer is not None
    assert isinstance(answer, list)
    assert len(answer) == 1
    assert isinstance(answer[0], AdditionalRank)
    assert answer[0].score == 0.15
