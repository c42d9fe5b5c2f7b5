"""Twin of usecases/modulecomponents/additional/rank/rank_params_extractor_test.go."""

from __future__ import annotations

import graphql
import pytest

from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params


def create_string_arg(name: str, value: str) -> graphql.ArgumentNode:
    return graphql.ArgumentNode(
        name=graphql.NameNode(value=name), value=graphql.StringValueNode(value=value)
    )


@pytest.mark.parametrize(
    ("name", "args", "want"),
    [
        ("Should create with no params", [], Params()),
        (
            "Should create with query param",
            [create_string_arg("query", "sample query")],
            Params(query="sample query"),
        ),
        (
            "Should create with property param",
            [create_string_arg("property", "sample property")],
            Params(property="sample property"),
        ),
        (
            "Should create with all params",
            [
                create_string_arg("query", "sample query"),
                create_string_arg("property", "sample property"),
            ],
            Params(query="sample query", property="sample property"),
        ),
    ],
)
def test_parse_cross_ranker_arguments(
    name: str, args: list[graphql.ArgumentNode], want: Params
) -> None:
    del name
    p = ReRankerProvider(None)
    assert p.extract_additional_fn(args) == want
    actual = p.extract_additional_fn(args)
    assert actual == want
