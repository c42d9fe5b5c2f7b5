"""The ``endpoint`` setting: which of NVIDIA's reranking contracts a client speaks (D-EXT-ENDPOINT).

Python only; Go knows one route. Each endpoint value is one route and one
body:

- ``retrieval`` (the default, Go's): ``{baseURL}/v1/retrieval/nvidia/reranking``,
  body ``{model, query: {text}, passages: [{text}]}``, answer
  ``{rankings: [{index, logit}]}``;
- ``model``: the hosted per-model route,
  ``{baseURL}/v1/retrieval/<model, "." written "_">/reranking``; the body
  keeps the dot; body and answer as ``retrieval``;
- ``ranking``: a self-hosted NIM, ``{baseURL}/v1/ranking``; without a key no
  ``Authorization`` header is sent; body and answer as ``retrieval``;
- ``rerank``: a Cohere-shaped gateway, ``{baseURL}/v1/rerank``, body
  ``{model, query: "<text>", documents: ["<text>", …], top_n: <count>}``,
  answer ``{results: [{index, relevance_score}]}``; text only;
- ``auto``: each of the four in that order, once per base URL.

``truncate`` is sent on the three NIM routes; the gateway's contract has no
such member, so it is not sent there (a gateway truncates by its own rule).

``auto`` moves to the next route only when an answer says the route does not
fit (:func:`does_not_fit`), and only while probing: the route that first
scores a chunk is kept for the client's life, per base URL, and concurrent
chunks wait for the probe rather than probe too (:func:`auto`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import pydantic_core
from pydantic import BaseModel, Field, StrictFloat, StrictInt

from ..clients._response_parse import invalid_rankings, parse_failure, validated
from ..errors import (
    EndpointMismatchError,
    InvalidPassageError,
    RedirectError,
    RerankerError,
    TokenLimitError,
    UpstreamError,
)
from ..modulecomponents._retry_drivers import Pause
from ._flows import WAIT_FOR_TURN_S, Flow, Turns
from .successors import successor_line
from .truncate import with_truncate

__all__ = [
    "AUTO",
    "MODEL",
    "PROBE_ORDER",
    "RANKING",
    "RERANK",
    "RETRIEVAL",
    "auto",
    "does_not_fit",
    "hint_for",
    "mismatch",
    "mismatch_line",
    "needs_key",
    "parse_rerank_response",
    "probe",
    "refuse_images",
    "request_body",
    "route_path",
    "skip_reason",
]

T = TypeVar("T")

RETRIEVAL = "retrieval"
MODEL = "model"
RANKING = "ranking"
RERANK = "rerank"
AUTO = "auto"
PROBE_ORDER = (RETRIEVAL, MODEL, RANKING, RERANK)
"""The order ``auto`` tries the routes in."""

_PATHS = {
    RETRIEVAL: "/v1/retrieval/nvidia/reranking",
    RANKING: "/v1/ranking",
    RERANK: "/v1/rerank",
}


def route_path(endpoint: str, model: str) -> str:
    """The path after the base URL; the per-model route writes the model's dots as ``_``."""
    if endpoint == MODEL:
        return f"/v1/retrieval/{model.replace('.', '_')}/reranking"
    return _PATHS[endpoint]


def needs_key(endpoint: str) -> bool:
    """Whether the route demands a key as Go does (a stock self-hosted NIM needs none)."""
    return endpoint != RANKING


def request_body(
    endpoint: str,
    model: str,
    query: str,
    passages: list[dict[str, str]],
    truncate: str | None,
) -> dict[str, Any]:
    """The JSON-ready body of one chunk's request on ``endpoint``."""
    if endpoint == RERANK:
        return {
            "model": model,
            "query": query,
            "documents": [passage.get("text", "") for passage in passages],
            "top_n": len(passages),
        }
    body: dict[str, Any] = {"model": model, "query": {"text": query}, "passages": passages}
    return with_truncate(body, truncate)  # D-EXT-TRUNCATE


def refuse_images(passages: list[dict[str, str]], first_index: int) -> None:
    """The gateway takes text only: an image passage is refused before anything is sent."""
    for position, passage in enumerate(passages):
        if "image" in passage:
            index = first_index + position
            raise InvalidPassageError(
                f"passage {index}: endpoint rerank takes text passages only; "
                'images need a NIM route (endpoint "model" or "ranking")',
                index=index,
            )


# --------------------------------------------------------------------------
# The gateway's answer
# --------------------------------------------------------------------------


class RerankResult(BaseModel):
    """One document's score on the gateway: its index in the request and its score."""

    index: StrictInt
    relevance_score: Annotated[StrictFloat, Field(allow_inf_nan=False)]


class RerankResponse(BaseModel):
    """The gateway's 200 body; other members (``id``, ``meta``, ``document``) are ignored."""

    results: list[RerankResult] | None = None


def parse_rerank_response(status: int, body: bytes, passages: int) -> list[RerankResult]:
    """The results of a gateway's 200 body, refused as carefully as the rankings of a NIM.

    Every fault is :class:`ResponseParseError` with Go's prefix; more results
    than documents is :class:`InvalidRankingsError` (the per-document checks
    follow in ``to_document_scores``). Invalid UTF-8 is read as U+FFFD.
    """
    read = validated(body, RerankResponse)
    if not isinstance(read, RerankResponse):
        raise parse_failure(status, read, body)
    results = read.results or []
    if len(results) > passages:
        raise invalid_rankings(
            f"{len(results)} results for {passages} documents, more than one per document", status
        )
    return results


# --------------------------------------------------------------------------
# Whether an answer says the route does not fit, and what would
# --------------------------------------------------------------------------

_SHAPE_WORDS = re.compile(
    r"unknown field|extra (?:fields|inputs)|field required|\bmissing\b|expected one of"
    r"|not permitted|should be a valid (?:dict|dictionary|string|list|array|object)"
    r"|value is not a valid (?:dict|str|list)|body -> (?:query|passages|documents|model)\b",
    re.IGNORECASE,
)
_UNKNOWN_MEMBER = re.compile(
    r"unknown field|extra_forbidden|extra (?:fields|inputs) (?:are )?not permitted", re.IGNORECASE
)
_PASSAGE_LEVEL = re.compile(
    r"body -> (?:passages|documents) -> \d+|\b(?:passages|documents)\[\d+\]", re.IGNORECASE
)
_PAGE_NOT_FOUND = "404 page not found"
_AVAILABLE_MODELS = re.compile(r"available models|unknown model", re.IGNORECASE)
_NOT_FOR_ACCOUNT = re.compile(r"not found for account", re.IGNORECASE)
"""NVIDIA's hosted 404 for a model's route that the account cannot reach (a retired one, too)."""


def does_not_fit(err: BaseException) -> bool:
    """Whether ``err`` says the route does not fit, so that ``auto`` may try the next one.

    Does not fit: a 404 (no such route, or a model the route does not serve)
    or a 405; a 400 or 422 that names a member the route does not know (an
    image on a text-only route included), or that complains about the body's
    shape (a missing or mistyped top-level member). Fits, so ``auto`` stops:
    any other error, a token overflow, and any other complaint about one
    passage (a FastAPI ``loc`` or an NVIDIA ``body -> passages -> N``, such as
    an empty text): the route fits, the input does not.
    """
    if not isinstance(err, UpstreamError) or isinstance(err, RedirectError | TokenLimitError):
        return False
    if err.status in (404, 405):
        return True
    if err.status not in (400, 422):
        return False
    text = err.body.decode("utf-8", "replace")
    if _UNKNOWN_MEMBER.search(text):  # the route does not know a member we send
        return True
    locations = _locations(err.body)
    if locations:
        return not any(_is_passage_level(loc) for loc in locations)
    if _PASSAGE_LEVEL.search(text):
        return False
    return _SHAPE_WORDS.search(text) is not None


def _locations(body: bytes) -> list[list[Any]]:
    """The ``loc`` of each entry of a FastAPI ``detail`` list, if the body is one."""
    try:
        document = pydantic_core.from_json(body)
    except ValueError:
        return []
    detail = document.get("detail") if isinstance(document, dict) else None
    if not isinstance(detail, list):
        return []
    return [
        entry["loc"]
        for entry in detail
        if isinstance(entry, dict) and isinstance(entry.get("loc"), list)
    ]


def _is_passage_level(loc: list[Any]) -> bool:
    return (
        len(loc) >= 3
        and loc[0] == "body"
        and loc[1] in ("passages", "documents")
        and isinstance(loc[2], int)
        and not isinstance(loc[2], bool)
    )


def hint_for(err: UpstreamError, endpoint: str, model: str) -> str | None:
    """For a 404 from a route that does not fit, a sentence naming the ``endpoint`` that would.

    On NVIDIA's hosted routes, a model whose successor NVIDIA has named
    (D-EXT-LIFECYCLE's table) is named with it: after the route's hint when
    the answer lists the models the route serves, or alone when the answer
    says the account cannot reach the model's route.
    """
    if err.status != 404 or isinstance(err, RedirectError):
        return None
    text = err.body.decode("utf-8", "replace")
    hint = _route_hint(text, endpoint, model)
    successor = successor_line(model) if endpoint in (RETRIEVAL, MODEL) else None
    if successor is None or _PAGE_NOT_FOUND in text.lower():
        return hint
    if hint is not None:
        return f"{hint}; {successor}"
    if _NOT_FOR_ACCOUNT.search(text):
        return f"the hosted service does not serve {model} to this account; {successor}"
    return None


def _route_hint(text: str, endpoint: str, model: str) -> str | None:
    if _PAGE_NOT_FOUND in text.lower():
        if endpoint in (RETRIEVAL, MODEL):
            return (
                f"this base URL serves no {route_path(endpoint, model)}; a self-hosted NIM "
                'serves /v1/ranking: set endpoint "ranking" (or "auto" to probe every route)'
            )
        if endpoint == RANKING:
            return (
                "this base URL serves no /v1/ranking; NVIDIA's hosted service serves each "
                'model on its own route: set endpoint "model" (or "auto" to probe every route)'
            )
        return 'this base URL serves no /v1/rerank: set endpoint "auto" to probe every route'
    if _AVAILABLE_MODELS.search(text):
        if endpoint == RETRIEVAL:
            return (
                f"this route does not serve {model}; NVIDIA's hosted service serves it on its "
                f'own route, {route_path(MODEL, model)}: set endpoint "model"'
            )
        if endpoint == MODEL:
            return (
                "this route does not serve the model; the models this answer lists are "
                'served on /v1/retrieval/nvidia/reranking: set endpoint "retrieval"'
            )
    return None


# --------------------------------------------------------------------------
# auto: the first chunk for a base URL probes, the others wait for its winner
# --------------------------------------------------------------------------


def auto(
    turns: Turns, base_url: str, probe: Callable[[], Flow[T]], on: Callable[[str], Flow[T]]
) -> Flow[T]:
    """One chunk under ``auto``: on the route found for ``base_url``, or probing for it.

    The chunk that takes the turn probes; chunks that arrive meanwhile, in
    other threads or tasks, wait for it and then use its winner. A probe that
    fails with an error that is not a mismatch remembers nothing, so the next
    chunk probes again.
    """
    while True:
        winner = turns.found(base_url)
        if winner is not None:
            return (yield from on(winner))
        if turns.take(base_url):
            try:
                if turns.found(base_url) is None:
                    return (yield from probe())
            finally:
                turns.give_back(base_url)
        else:
            yield Pause(WAIT_FOR_TURN_S)


def probe(
    turns: Turns,
    base_url: str,
    model: str,
    skipped: Callable[[str], str | None],
    on: Callable[[str], Flow[T]],
) -> Flow[T]:
    """Try each route in :data:`PROBE_ORDER` until one fits; remember it for ``base_url``.

    ``skipped(endpoint)`` says why a route cannot be sent (no key, images on
    the gateway), or ``None``. When nothing fits, :class:`EndpointMismatchError`
    names every route, its URL and what it answered.
    """
    tried: list[tuple[str, str, UpstreamError | str]] = []
    for endpoint in PROBE_ORDER:
        url = base_url + route_path(endpoint, model)
        why = skipped(endpoint)
        if why is not None:
            tried.append((endpoint, url, why))
            continue
        try:
            scores = yield from on(endpoint)
        except UpstreamError as err:
            if not does_not_fit(err):
                raise
            tried.append((endpoint, url, err))
            continue
        turns.remember(base_url, endpoint)
        return scores
    raise mismatch(base_url, tried)


def skip_reason(endpoint: str, has_key: bool, images: bool) -> str | None:
    """Why ``auto`` does not try ``endpoint`` (it could not be sent), or ``None``."""
    if needs_key(endpoint) and not has_key:
        return "not tried: no API key"
    if endpoint == RERANK and images:
        return "not tried: it takes no images"
    return None


def mismatch(base_url: str, tried: list[tuple[str, str, UpstreamError | str]]) -> RerankerError:
    """Every route tried and what it answered, in one line."""
    lines = []
    answered: list[tuple[str, str, int, str]] = []
    last: UpstreamError | None = None
    for endpoint, url, outcome in tried:
        if isinstance(outcome, str):
            lines.append(f"{endpoint} {outcome}")
            continue
        last = outcome
        lines.append(mismatch_line(endpoint, url, outcome))
        answered.append((endpoint, url, outcome.status, outcome.detail or ""))
    assert last is not None  # the ranking route is never skipped
    err = EndpointMismatchError(
        f"endpoint auto found no route that fits {base_url}: " + "; ".join(lines),
        status=last.status,
        detail=last.detail,
        body=last.body,
        content_type=last.content_type,
        headers=last.headers,
    )
    err.tried = tuple(answered)
    return err


def mismatch_line(endpoint: str, url: str, err: UpstreamError) -> str:
    """What one route answered, for the message of an ``EndpointMismatchError``."""
    said = (err.detail or "").strip() or err.body.decode("utf-8", "replace").strip()
    said = " ".join(said.split())
    if len(said) > 120:
        said = said[:119].rstrip() + "…"
    return f"{endpoint} ({url}) answered {err.status}" + (f": {said}" if said else "")
