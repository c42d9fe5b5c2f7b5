"""Twin of usecases/modulecomponents/additional/rank/rank_graphql_field_test.go."""

from __future__ import annotations

import graphql

from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider


def test_additional_cross_ranker_field() -> None:
    # given
    cross_ranker_provider = ReRankerProvider(None)
    classname = "Class"

    # when
    cross_ranker = cross_ranker_provider.additional_field_fn(classname)

    assert cross_ranker is not None
    assert isinstance(cross_ranker, graphql.GraphQLField)
    cross_ranker_object_list = cross_ranker.type
    assert isinstance(cross_ranker_object_list, graphql.GraphQLList)
    cross_ranker_object = cross_ranker_object_list.of_type
    assert isinstance(cross_ranker_object, graphql.GraphQLObjectType)
    assert cross_ranker_object.name == "ClassAdditionalReranker"
    assert len(cross_ranker_object.fields) == 1
    assert cross_ranker_object.fields["score"] is not None
    assert cross_ranker_object.fields["score"].type is graphql.GraphQLFloat

    assert cross_ranker.args is not None
    assert len(cross_ranker.args) == 2
    assert cross_ranker.args["query"] is not None
    assert cross_ranker.args["property"] is not None
