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
chunks wait for the probe rather than probe too (:class:`RouteMemory`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import anyio
import pydantic_core
from pydantic import BaseModel, Field, StrictFloat, StrictInt, ValidationError

from ..errors import (
    InvalidPassageError,
    InvalidRankingsError,
    RedirectError,
    ResponseParseError,
    TokenLimitError,
    UpstreamError,
)
from ._ranker_errors import rank_response_fault

__all__ = [
    "AUTO",
    "MODEL",
    "PROBE_ORDER",
    "RANKING",
    "RERANK",
    "RETRIEVAL",
    "OncePerKey",
    "RouteMemory",
    "does_not_fit",
    "hint_for",
    "mismatch_line",
    "needs_key",
    "parse_rerank_response",
    "refuse_images",
    "request_body",
    "route_path",
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
    if truncate is not None:  # D-EXT-TRUNCATE
        body["truncate"] = truncate
    return body


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
    try:
        results = RerankResponse.model_validate_json(body).results or []
    except ValidationError as err:
        if err.errors(include_input=False)[0]["type"] == "json_invalid" and not _is_utf8(body):
            fixed = body.decode("utf-8", "replace").encode("utf-8")
            return parse_rerank_response(status, fixed, passages)
        raise ResponseParseError(
            f"failed to parse reranker response (status {status}): "
            f"{rank_response_fault(err, body)}",
            status=status,
        ) from None
    except ValueError:  # a number too long for Python's int parser
        raise ResponseParseError(
            f"failed to parse reranker response (status {status}): "
            "json: a number has more digits than can be read",
            status=status,
        ) from None
    if len(results) > passages:
        raise InvalidRankingsError(
            f"failed to parse reranker response (status {status}): "
            f"{len(results)} results for {passages} documents, more than one per document"
        )
    return results


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
    """For a 404 from a route that does not fit, a sentence naming the ``endpoint`` that would."""
    if err.status != 404 or isinstance(err, RedirectError):
        return None
    text = err.body.decode("utf-8", "replace")
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
# auto's memory: one probe per base URL, shared by threads and tasks
# --------------------------------------------------------------------------


class RouteMemory:
    """The route ``auto`` found for each base URL, kept for the client's life.

    The first chunk for a base URL probes; chunks that arrive meanwhile, in
    other threads or tasks, wait for it and then use its winner. A probe that
    fails with an error that is not a mismatch remembers nothing, so the next
    chunk probes again.
    """

    __slots__ = ("_events", "_guard", "_locks", "_winners")

    def __init__(self) -> None:
        self._winners: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._events: dict[str, anyio.Event] = {}
        self._guard = threading.Lock()

    def winner(self, base_url: str) -> str | None:
        """The route that fits ``base_url``, once one has been found."""
        return self._winners.get(base_url)

    def remember(self, base_url: str, endpoint: str) -> None:
        self._winners[base_url] = endpoint

    def run(self, base_url: str, send: Callable[[str], T], probe: Callable[[], T]) -> T:
        """``send(winner)`` when the route is known, else ``probe()``, one thread at a time."""
        known = self._winners.get(base_url)
        if known is not None:
            return send(known)
        with self._guard:
            lock = self._locks.setdefault(base_url, threading.Lock())
        with lock:
            known = self._winners.get(base_url)
            if known is None:
                return probe()
        return send(known)

    async def arun(
        self,
        base_url: str,
        send: Callable[[str], Awaitable[T]],
        probe: Callable[[], Awaitable[T]],
    ) -> T:
        """The async twin of :meth:`run`: tasks wait on the probing task, not on a lock."""
        while True:
            known = self._winners.get(base_url)
            if known is not None:
                return await send(known)
            event = self._events.get(base_url)
            if event is None:
                break
            await event.wait()
        event = anyio.Event()
        self._events[base_url] = event
        try:
            return await probe()
        finally:
            del self._events[base_url]
            event.set()


class OncePerKey:
    """Runs a step once per key (``waitReady``'s wait per base URL), from threads or tasks.

    Callers that arrive while the step runs wait for it; a step that fails is
    not remembered, so the next caller runs it again.
    """

    __slots__ = ("_memory",)

    def __init__(self) -> None:
        self._memory = RouteMemory()

    def run(self, key: str, step: Callable[[], None]) -> None:
        def done(_: str) -> None:
            return None

        def first() -> None:
            step()
            self._memory.remember(key, "done")

        self._memory.run(key, done, first)

    async def arun(self, key: str, step: Callable[[], Awaitable[None]]) -> None:
        async def done(_: str) -> None:
            return None

        async def first() -> None:
            await step()
            self._memory.remember(key, "done")

        await self._memory.arun(key, done, first)


def mismatch_line(endpoint: str, url: str, err: UpstreamError) -> str:
    """What one route answered, for the message of an ``EndpointMismatchError``."""
    said = (err.detail or "").strip() or err.body.decode("utf-8", "replace").strip()
    said = " ".join(said.split())
    if len(said) > 120:
        said = said[:119].rstrip() + "…"
    return f"{endpoint} ({url}) answered {err.status}" + (f": {said}" if said else "")
