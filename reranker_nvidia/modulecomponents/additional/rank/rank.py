"""The ``rerank`` additional property's provider.

Port of usecases/modulecomponents/additional/rank/rank.go
(``ReRankerProvider``), with ``getScore`` from rank_result.go. Go's ``ctx``,
which carries the request headers, is the keyword argument ``headers``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reranker_nvidia._gostd.context import HeaderSource
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.errors import ParamsError, RerankerError
from reranker_nvidia.modulecomponents.additional.rank.rank_graphql_field import (
    additional_reranker_field,
)
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.modulecomponents.additional.rank.rank_params_extractor import (
    parse_reranker_arguments,
)
from reranker_nvidia.modulecomponents.additional.rank.rank_result import (
    apply_scores,
    documents_to_rank,
    wrap_client_error,
)
from reranker_nvidia.modulecomponents.ent.rank_result import RankResult


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


class ReRankerProvider:
    """Scores and sorts search results with a reranker client."""

    __slots__ = ("_client",)

    def __init__(self, client: ReRankerClient | AsyncReRankerClient | None) -> None:
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
        if params is None or isinstance(params, Params):
            return self.get_score(cfg, in_, params, headers=headers)
        raise ParamsError("wrong parameters")

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
        """The async twin of :meth:`additional_property_fn`, for an async client."""
        del limit, argument_module_params
        if params is None or isinstance(params, Params):
            return await self.get_score_async(cfg, in_, params, headers=headers)
        raise ParamsError("wrong parameters")

    def get_score(
        self,
        cfg: ClassConfig | None,
        in_: Sequence[SearchResult],
        params: Params | None,
        *,
        headers: HeaderSource = None,
    ) -> list[SearchResult]:
        """Go's ``getScore`` (see rank_result.py)."""
        documents = documents_to_rank(in_, params)
        if documents is None:
            return []
        query = params.get_query() if params is not None else ""
        try:
            result = self._client.rank(query, documents, cfg, headers=headers)  # type: ignore[union-attr]
        except RerankerError as err:
            raise wrap_client_error(err) from err
        if not isinstance(result, RankResult):
            close = getattr(result, "close", None)
            if close is not None:  # an un-awaited coroutine from an async client
                close()
            raise TypeError("get_score needs a synchronous client; use get_score_async")
        return apply_scores(in_, result)

    async def get_score_async(
        self,
        cfg: ClassConfig | None,
        in_: Sequence[SearchResult],
        params: Params | None,
        *,
        headers: HeaderSource = None,
    ) -> list[SearchResult]:
        """The async twin of :meth:`get_score`."""
        documents = documents_to_rank(in_, params)
        if documents is None:
            return []
        query = params.get_query() if params is not None else ""
        try:
            result = await self._client.rank(query, documents, cfg, headers=headers)  # type: ignore[union-attr,misc]
        except RerankerError as err:
            raise wrap_client_error(err) from err
        return apply_scores(in_, result)
