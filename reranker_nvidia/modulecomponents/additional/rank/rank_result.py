"""Scoring and sorting search results: Go's ``getScore``.

Port of usecases/modulecomponents/additional/rank/rank_result.go. Go's
``getScore`` is a method of ``ReRankerProvider``; here it is a function of the
client, which the providers of rank.py call. :func:`get_score_async` is its
twin for an async client, after Go's code.

Deliberate differences (docs/divergences.md), each a helper below: a
property named ``id`` reads ``""`` without being deleted (D-RANK-ID, in
``SearchResult.object()``); a client that returns too few scores is an
error, not a panic (D-RANK-SHORT); equal scores keep their input order
(D-RANK-STABLE) and a new list is returned (D-RANK-INPLACE). Two opt-in
extensions read the client's result: one the client failed open on keeps the
search order with no ``rerank`` entry (D-EXT-FAIL-OPEN), and the call's
``min_score`` drops, after the sort, the results scoring below it (D-EXT-SCORES).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...._gostd.context import HeaderSource
from ....entities.moduletools.config import ClassConfig
from ....entities.search.result import SearchResult
from ....errors import ClientRankError, ParamsError, RerankerError
from ...ent.rank_result import DocumentScore, RankResult
from .rank_params import Params

if TYPE_CHECKING:
    from ..models import ranker as rerankmodels
    from .rank import (
        AsyncReRankerClient,
        ReRankerClient,
    )

PROPERTY_RERANK = "rerank"
"""Go: provider_ranker.go's ``PropertyRerank``. Defined here, the lower of the two
packages that use it (provider_ranker.py imports this one); Go writes the literal here."""


def get_score(
    client: ReRankerClient,
    cfg: ClassConfig | None,
    in_: Sequence[SearchResult],
    params: Params | None,
    *,
    headers: HeaderSource = None,
) -> list[SearchResult]:
    """Rank ``in_`` against the ``query`` argument by the ``property`` argument, best first."""
    if len(in_) == 0:
        return []
    query, documents = _rank_input(in_, params)

    if inspect.iscoroutinefunction(getattr(client, "rank", None)):
        raise _async_client_error()
    try:
        result = client.rank(query, documents, cfg, headers=headers)
    except RerankerError as err:
        raise ClientRankError(err) from err
    if inspect.isawaitable(result):  # an async rank that inspect cannot tell
        if inspect.iscoroutine(result):
            result.close()  # never awaited, and not reported as such
        raise _async_client_error()

    return _scored(in_, result)


def _async_client_error() -> TypeError:
    """Python only: an async client given to the sync provider, named as the mistake."""
    return TypeError(
        "the client's rank is async: use "
        "AsyncReRankerProvider(client).additional_property_fn_async(...) and await it"
    )


def _rank_input(in_: Sequence[SearchResult], params: Params | None) -> tuple[str, list[str]]:
    """Go's checks of the arguments, then the query and one document per result."""
    if params is None:
        raise ParamsError("no params provided")

    rank_property = params.get_property()
    query = params.get_query()

    if len(rank_property) == 0:
        raise ParamsError("no properties provided", results=in_)

    return query, [_property_text(result, rank_property) for result in in_]


def _scored(in_: Sequence[SearchResult], result: RankResult) -> list[SearchResult]:
    """Each result's ``_additional.rerank = [{score}]``, then the results sorted by it."""
    if not result.reranked:  # D-EXT-FAIL-OPEN: the search order, no rerank entry, no score
        return list(in_)
    from ..models import ranker as rerankmodels  # noqa: PLC0415 - a pydantic model: loaded here

    for item, document_score in zip(in_, _one_score_per_result(in_, result), strict=True):
        if item.additional_properties is None:
            item.additional_properties = {}
        item.additional_properties[PROPERTY_RERANK] = [
            rerankmodels.RankResult(score=document_score.score)
        ]

    ordered = _sorted_by_score(in_)
    if result.min_score is not None:  # D-EXT-SCORES: after the sort, on the call's scale
        threshold = result.min_score
        ordered = [item for item in ordered if _score(item) >= threshold]
    return ordered


def _property_text(result: SearchResult, rank_property: str) -> str:
    """The property's value when it is a string, else ``""`` (D-RANK-ID: ``id`` reads ``""``)."""
    value = result.object().properties.get(rank_property)
    return value if isinstance(value, str) else ""


def _one_score_per_result(in_: Sequence[SearchResult], result: RankResult) -> list[DocumentScore]:
    """D-RANK-SHORT: too few scores (Go panics), or too many, are ``client rank: …``."""
    scores = result.document_scores
    if len(scores) != len(in_):
        raise ClientRankError(
            RerankerError(f"the client returned {len(scores)} scores for {len(in_)} documents")
        )
    return scores


def _sorted_by_score(in_: Sequence[SearchResult]) -> list[SearchResult]:
    """Descending by score; D-RANK-STABLE keeps ties in input order, D-RANK-INPLACE copies."""
    return sorted(in_, key=_score, reverse=True)


def _score(item: SearchResult) -> float:
    assert item.additional_properties is not None
    rank: list[rerankmodels.RankResult] = item.additional_properties[PROPERTY_RERANK]
    assert rank[0].score is not None
    return rank[0].score


# --------------------------------------------------------------------------
# Python only: the twin for an async client
# --------------------------------------------------------------------------


async def get_score_async(
    client: AsyncReRankerClient,
    cfg: ClassConfig | None,
    in_: Sequence[SearchResult],
    params: Params | None,
    *,
    headers: HeaderSource = None,
) -> list[SearchResult]:
    """:func:`get_score` with an awaited rank call."""
    if len(in_) == 0:
        return []
    query, documents = _rank_input(in_, params)

    try:
        result = await client.rank(query, documents, cfg, headers=headers)
    except RerankerError as err:
        raise ClientRankError(err) from err

    return _scored(in_, result)
