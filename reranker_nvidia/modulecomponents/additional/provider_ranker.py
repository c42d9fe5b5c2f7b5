"""Registering the additional property ``rerank``.

Port of usecases/modulecomponents/additional/provider_ranker.go. Go's
``PropertyRerank`` is ``PROPERTY_RERANK`` of rank/rank_result.py, the lower
of the two modules that use it; Go's private ``reRankerClient`` is
``ReRankerClient`` of rank/rank.py, the same interface.
"""

from __future__ import annotations

from ...entities.modulecapabilities.additional import (
    AdditionalProperty,
    AdditionalSearch,
)
from .rank import rank as rankerrank
from .rank.rank_result import PROPERTY_RERANK


class GraphQLAdditionalRankerProvider:
    """Provides ``rerank`` for Get (ExploreGet) and List (ExploreList) queries."""

    __slots__ = ("re_ranker_provider",)

    def __init__(self, re_ranker_provider: rankerrank.ReRankerProvider) -> None:
        self.re_ranker_provider = re_ranker_provider

    def additional_properties(self) -> dict[str, AdditionalProperty]:
        """``{"rerank": …}``."""
        return {PROPERTY_RERANK: self._get_re_ranker()}

    def _get_re_ranker(self) -> AdditionalProperty:
        provider = self.re_ranker_provider
        return AdditionalProperty(
            graphql_names=(PROPERTY_RERANK,),
            graphql_field_function=provider.additional_field_fn,
            graphql_extract_function=provider.extract_additional_fn,
            search_functions=AdditionalSearch(
                explore_get=provider.additional_property_fn,
                explore_list=provider.additional_property_fn,
            ),
        )


def new_ranker_provider(client: rankerrank.ReRankerClient) -> GraphQLAdditionalRankerProvider:
    """Go's ``NewRankerProvider``."""
    return GraphQLAdditionalRankerProvider(rankerrank.new(client))
