"""Fail open, with a signal: ``on_error="input_order"`` (D-EXT-FAIL-OPEN).

Python only. Go's ``Rank`` returns the error, and Weaviate fails the query.
With ``on_error="input_order"`` a call whose reranking fails returns the
documents in the order they were given, every score ``None`` (never a made-up
number), with ``result.reranked`` false and ``result.error`` the typed error,
and logs one ``WARNING`` line to the ``reranker_nvidia`` logger.

It covers the service, not the caller: a bad setting or document
(:class:`ConfigError`), bad ``rerank`` arguments (:class:`ParamsError`), a
``TypeError``, Ctrl-C and cancellation are raised as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ParamsError, RerankerError
from ..modulecomponents.ent.rank_result import DocumentScore, RankResult, Usage
from .images import passage_text

__all__ = ["LOGGER", "fails_open", "not_reranked"]

LOGGER = logging.getLogger("reranker_nvidia")


def fails_open(err: BaseException) -> bool:
    """Whether ``err`` is the service's failure, which ``input_order`` turns into a result."""
    return isinstance(err, RerankerError) and not isinstance(err, ConfigError | ParamsError)


def not_reranked(
    query: str, documents: Sequence[Any], err: Exception, usage: Usage | None
) -> RankResult:
    """The documents in input order, unscored, standing for ``err``; one warning logged."""
    line = str(err).splitlines()[0] if str(err) else type(err).__name__
    LOGGER.warning("reranking failed, documents kept in their input order: %s", line)
    scores = [DocumentScore(passage_text(d), None) for d in documents]
    return RankResult(query, scores, reranked=False, error=err, usage=usage)
