"""Scoring and sorting search results: Go's ``getScore``.

Port of usecases/modulecomponents/additional/rank/rank_result.go:

1. no results → no results, and no call;
2. no params → ``no params provided``; an empty ``property`` → the error
   ``no properties provided`` (the input travels with it as ``.results``);
3. each result's document is its property's value when that is a string,
   else ``""`` (missing, number, list, null); the name must match exactly,
   and ``id`` always reads ``""`` because Go's ``Object()`` drops it;
4. one rank call for the whole page, with the ``query`` argument or ``""``;
   a failure becomes ``client rank: <error>``;
5. each result gets ``_additional.rerank = [{"score": s}]``;
6. results are sorted by score, descending.

Deliberate differences (docs/divergences.md): equal scores keep their input
order (D-RANK-STABLE); a new list is returned and the caller's list keeps its
order (D-RANK-INPLACE); a client that returns fewer scores than results is an
error, not a panic (D-RANK-SHORT).
"""

from __future__ import annotations

from collections.abc import Sequence

from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.errors import ClientRankError, ParamsError, RerankerError
from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult as AdditionalRank
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.modulecomponents.ent.rank_result import RankResult

PROPERTY_RERANK = "rerank"


def documents_to_rank(in_: Sequence[SearchResult], params: Params | None) -> list[str] | None:
    """Steps 1 to 3: the documents to send, or ``None`` when there is nothing to rank."""
    if len(in_) == 0:
        return None
    if params is None:
        raise ParamsError("no params provided")
    rank_property = params.get_property()
    if len(rank_property) == 0:
        raise ParamsError("no properties provided", results=in_)
    documents: list[str] = []
    for result in in_:
        value = result.object().properties.get(rank_property)
        documents.append(value if isinstance(value, str) else "")
    return documents


def apply_scores(in_: Sequence[SearchResult], result: RankResult) -> list[SearchResult]:
    """Steps 5 and 6: annotate each result with its score, then sort, stably, descending."""
    scores = result.document_scores
    if len(scores) != len(in_):
        raise ClientRankError(
            RerankerError(f"the client returned {len(scores)} scores for {len(in_)} documents")
        )
    for item, document_score in zip(in_, scores, strict=True):
        if item.additional_properties is None:
            item.additional_properties = {}
        item.additional_properties[PROPERTY_RERANK] = [AdditionalRank(score=document_score.score)]
    return sorted(in_, key=_score, reverse=True)


def _score(item: SearchResult) -> float:
    assert item.additional_properties is not None
    rank: list[AdditionalRank] = item.additional_properties[PROPERTY_RERANK]
    assert rank[0].score is not None
    return rank[0].score


def wrap_client_error(err: RerankerError) -> ClientRankError:
    """Step 4's error: ``client rank: <error>``."""
    return ClientRankError(err)
