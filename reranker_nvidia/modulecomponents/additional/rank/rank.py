"""The ``rerank`` additional property's provider.

Port of usecases/modulecomponents/additional/rank/rank.go (``ReRankerClient``,
``ReRankerProvider``, ``New``); ``getScore`` is in rank_result.py. Go's
``ctx``, which carries the request headers, is the keyword argument
``headers``. After Go's code, :class:`AsyncReRankerProvider` does the same
for an async client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ...._gostd.context import HeaderSource
from ....entities.moduletools.config import ClassConfig
from ....entities.search.result import SearchResult
from ....errors import ConfigError, ParamsError
from ...ent.rank_result import RankResult
from .rank_graphql_field import (
    additional_reranker_field,
)
from .rank_params import Params
from .rank_params_extractor import (
    parse_reranker_arguments,
)
from .rank_result import (
    get_score,
    get_score_async,
)


class ReRankerClient(Protocol):
    """Anything that ranks documents like the NVIDIA client (Go: ``ReRankerClient``)."""

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> RankResult: ...


class ReRankerProvider:
    """Scores and sorts search results with a reranker client.

    The GraphQL helpers read no client, so ``ReRankerProvider()`` (Go's zero
    ``ReRankerProvider{}``) serves them; ranking needs one.
    """

    __slots__ = ("_client",)

    def __init__(self, client: ReRankerClient | None = None) -> None:
        self._client = client

    def additional_property_default_value(self) -> Params:
        """An empty :class:`Params`."""
        return Params()

    def extract_additional_fn(self, param: Sequence[Any] | None, class_: Any = None) -> Params:
        """The ``rerank`` arguments of a GraphQL field (graphql-core ``ArgumentNode`` list)."""
        del class_
        return parse_reranker_arguments(param)

    def additional_field_fn(self, classname: str) -> Any:
        """The GraphQL field ``rerank`` for class ``classname`` (needs graphql-core)."""
        return additional_reranker_field(classname)

    def additional_property_fn(
        self,
        in_: Sequence[SearchResult],
        params: Any,
        limit: int | None = None,
        argument_module_params: Mapping[str, Any] | None = None,
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> list[SearchResult]:
        """Rank ``in_`` and return it sorted, each result with ``_additional.rerank``."""
        del limit, argument_module_params
        parameters = _parameters(params)
        if self._client is None:  # Go dereferences the nil client and panics
            raise ConfigError("the rerank provider has no client to rank with")
        return get_score(self._client, cfg, in_, parameters, headers=headers)


def new(reranker: ReRankerClient) -> ReRankerProvider:
    """Go's ``New``."""
    return ReRankerProvider(reranker)


def _parameters(params: Any) -> Params | None:
    """Go's ``params.(*Params)``: a typed nil passes, anything else is ``wrong parameters``."""
    if params is None or isinstance(params, Params):
        return params
    raise ParamsError("wrong parameters")


# --------------------------------------------------------------------------
# Python only: the provider for an async client
# --------------------------------------------------------------------------


class AsyncReRankerClient(Protocol):
    """The async twin of :class:`ReRankerClient`."""

    async def rank(
        self,
        query: str,
        documents: Sequence[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> RankResult: ...


class AsyncReRankerProvider:
    """:class:`ReRankerProvider` for an async client: ``additional_property_fn_async``."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncReRankerClient) -> None:
        self._client = client

    def additional_property_default_value(self) -> Params:
        """An empty :class:`Params`."""
        return Params()

    def extract_additional_fn(self, param: Sequence[Any] | None, class_: Any = None) -> Params:
        """The ``rerank`` arguments of a GraphQL field (graphql-core ``ArgumentNode`` list)."""
        del class_
        return parse_reranker_arguments(param)

    def additional_field_fn(self, classname: str) -> Any:
        """The GraphQL field ``rerank`` for class ``classname`` (needs graphql-core)."""
        return additional_reranker_field(classname)

    async def additional_property_fn_async(
        self,
        in_: Sequence[SearchResult],
        params: Any,
        limit: int | None = None,
        argument_module_params: Mapping[str, Any] | None = None,
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> list[SearchResult]:
        """The async twin of :meth:`ReRankerProvider.additional_property_fn`."""
        del limit, argument_module_params
        return await get_score_async(self._client, cfg, in_, _parameters(params), headers=headers)
