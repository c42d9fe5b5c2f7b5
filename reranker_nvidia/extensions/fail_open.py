"""Fail open, with a signal: ``on_error="input_order"`` (D-EXT-FAIL-OPEN).

Python only. Go's ``Rank`` returns the error, and Weaviate fails the query.
With ``on_error="input_order"`` a call whose reranking fails returns the
documents in the order they were given, every score ``None`` (never a made-up
number), with ``result.reranked`` false and ``result.error`` the typed error,
and logs one ``WARNING`` line to the ``reranker_nvidia`` logger.

It covers the service, not the caller: a bad setting or document
(:class:`ConfigError`), bad ``rerank`` arguments (:class:`ParamsError`), a
``TypeError``, and what the caller's own set-up refuses before a request can be
sent (no key or an unusable one, an ``X-Nvidia-Baseurl`` the SSRF checks refuse,
a URL that does not parse, an address ``MODULES_VALIDATE_BASE_URL`` forbids) are
raised as before; so are Ctrl-C and cancellation. What fails open is what the
service did: a status other than 200, a broken or timed-out connection, an
answer that cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import (
    BaseURLError,
    ConfigError,
    DialRefusedError,
    MissingAPIKeyError,
    ParamsError,
    RequestBuildError,
    RerankerError,
)
from ..modulecomponents.ent.rank_result import DocumentScore, RankResult, Usage
from .images import passage_text

__all__ = ["CALLERS_MISTAKES", "LOGGER", "fails_open", "not_reranked"]

LOGGER = logging.getLogger("reranker_nvidia")


CALLERS_MISTAKES = (
    ConfigError,
    ParamsError,
    MissingAPIKeyError,
    BaseURLError,
    RequestBuildError,
    DialRefusedError,
)
"""The reranker errors that are the caller's set-up, not the service: never failed open."""


def fails_open(err: BaseException) -> bool:
    """Whether ``err`` is the service's failure, which ``input_order`` turns into a result."""
    return isinstance(err, RerankerError) and not isinstance(err, CALLERS_MISTAKES)


def not_reranked(
    query: str, documents: Sequence[Any], err: Exception, usage: Usage | None
) -> RankResult:
    """The documents in input order, unscored, standing for ``err``; one warning logged."""
    line = str(err).splitlines()[0] if str(err) else type(err).__name__
    LOGGER.warning("reranking failed, documents kept in their input order: %s", line)
    scores = [DocumentScore(passage_text(d), None) for d in documents]
    return RankResult(query, scores, reranked=False, error=err, usage=usage)
