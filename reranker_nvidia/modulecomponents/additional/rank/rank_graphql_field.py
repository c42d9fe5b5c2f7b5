"""The GraphQL field ``rerank(query:, property:) { score }``.

Port of usecases/modulecomponents/additional/rank/rank_graphql_field.go. Needs
graphql-core: ``pip install 'reranker-nvidia[graphql]'``.
"""

from __future__ import annotations

from typing import Any

from ....errors import ConfigError


def additional_reranker_field(classname: str) -> Any:
    """A ``graphql.GraphQLField`` of type ``[<classname>AdditionalReranker]``."""
    try:
        import graphql  # noqa: PLC0415 - optional dependency
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ConfigError(
            "the rerank GraphQL field needs graphql-core: pip install 'reranker-nvidia[graphql]'"
        ) from None
    return graphql.GraphQLField(
        graphql.GraphQLList(
            graphql.GraphQLObjectType(
                name=f"{classname}AdditionalReranker",
                fields={"score": graphql.GraphQLField(graphql.GraphQLFloat)},
            )
        ),
        args={
            "query": graphql.GraphQLArgument(
                graphql.GraphQLString, description="Properties which contains text"
            ),
            "property": graphql.GraphQLArgument(
                graphql.GraphQLString, description="Property to rank from"
            ),
        },
    )
