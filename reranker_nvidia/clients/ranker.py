"""The NVIDIA reranking client.

Port of modules/reranker-nvidia/clients/ranker.go, in Go's order: the client
and ``New``, ``Rank``, ``toRankResult``, ``performRank``, ``getRankRequest``,
``toDocumentScores``, ``chunkDocuments``, ``getNvidiaUrl``, ``getApiKey``,
``getResponseError``, and Go's wire structs at the bottom. Documents are cut
into chunks of ``max_documents`` (512), at most ``max_concurrency`` chunks
(the number of CPUs) are in flight at once, and the scores come back in the
order the documents were given.

``perform_rank`` is Go's ``performRank`` written once, as a flow: a generator
that yields the request to send and is sent the answer. :class:`Client`
drives it on threads and :class:`AsyncClient` with ``await``
(``modulecomponents/_retry_drivers.py``); sending is in ``_sending``. The
Python-only plumbing is in the ``_`` siblings, each named for what it is. The
opt-in extensions are in ``reranker_nvidia/extensions/``: with Go's defaults
none of their code runs while a call succeeds.

Deliberate differences from Go are marked ``D-…`` and listed, with the
contract case that pins each, in docs/divergences.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, TypeAlias, TypeVar

import httpx

from .._gostd import json as gojson
from .._gostd import url as gourl
from .._gostd.context import HeaderSource as HeaderSource  # noqa: PLC0414 - for type hints
from ..config.class_settings import NAME, ClassSettings
from ..entities.moduletools.config import ClassConfig
from ..errors import (
    ConfigError,
    ErrorResponseParseError,
    MissingAPIKeyError,
    RequestBuildError,
    RerankerError,
)
from ..extensions.images import Passage
from ..extensions.lifecycle import DeprecationNotices
from ..extensions.settings import checked_keywords
from ..modulecomponents._deadline import DEFAULT_MAX_RESPONSE_BYTES
from ..modulecomponents._retry_drivers import Pause, drive, drive_async
from ..modulecomponents.base_client import new_async_base_http_client, new_base_http_client
from ..modulecomponents.ent.rank_result import DocumentScore, RankResult
from ..modulecomponents.header_values import get_value_from_context
from ..modulecomponents.validate_baseurl import Resolver, validated_base_url_from_header
from ..usecases.config.environment import module_http_client_timeout_from_environment
from ._arguments import EventLoopBinding, checked_config, checked_documents, extensions_given
from ._chunk_workers import close_pool, num_cpu, pool_of, run_jobs
from ._error_dialects import (
    ErrorAnswer,
    joined_msgs,
    listed_detail,
    more_than_the_status,
    nim_message,
    redirect_not_followed,
    string_detail,
)
from ._error_dialects import NimError as NimError  # noqa: PLC0414 - NVIDIA's error bodies
from ._error_dialects import ProblemDetails as ProblemDetails  # noqa: PLC0414
from ._error_types import refined_error
from ._gc_hold import gc_held
from ._response_parse import (
    PlainRankings,
    invalid_rankings,
    parse_failure,
    placed_logits,
    plain_rankings,
    refuse_more_rankings_than,
    validated,
)
from ._secrets import check_api_key, scrubbed
from ._sending import Answer, APIKey, Post, Progress, request_headers, send, send_async
from ._wire import WireStruct
from .ranker_meta import meta_info

if TYPE_CHECKING:
    import anyio

    from ..extensions.plan import Plan

MAX_DOCUMENTS = 512
"""Passages per request (Go: ``maxDocuments: 512``)."""

RERANKING_PATH = "/v1/retrieval/nvidia/reranking"
API_KEY_HEADER = "X-Nvidia-Api-Key"
BASE_URL_HEADER = "X-Nvidia-Baseurl"
API_KEY_ENV = "NVIDIA_APIKEY"
"""The environment variable the key is read from at start (Go: module.go's ``os.Getenv``)."""

ProgressCallback = Callable[[int, int], None]
"""``(documents ranked so far, documents in all)``, called after each chunk."""

Document = str | Passage
"""A document to rank: text, or a :class:`Passage` with an image (D-EXT-IMAGES)."""

RankFlow: TypeAlias = Generator[Post | Pause, Answer | None, list[DocumentScore]]
"""One chunk's flow: yields a :class:`Post` (or a pause), is sent the :class:`Answer`."""

_D = TypeVar("_D")


class _Client:
    """Go's ``client``: the key, the timeout, ``maxDocuments``; what both clients share."""

    def __init__(
        self,
        api_key: str | APIKey | None = None,
        timeout: float | None = None,
        *,
        max_documents: int = MAX_DOCUMENTS,
        max_concurrency: int | None = None,
        transport: Any = None,
        resolver: Resolver | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        **extensions: Any,
    ) -> None:
        """Go's ``New``; ``api_key=None`` reads ``NVIDIA_APIKEY``, once, here.

        ``timeout`` (seconds; zero or less: none) covers each request's attempts
        and body, read from ``MODULES_CLIENT_TIMEOUT`` when not given, else 50 s.
        ``transport`` swaps the network layer, ``resolver`` DNS for the SSRF
        checks; ``max_response_bytes`` caps each decoded body (D-BODY-CAP). The
        other keyword arguments are the extensions of
        ``reranker_nvidia.extensions.settings.SETTINGS``, each off by default.
        """
        self._init_kwargs = {  # what a pickle carries (D-EXT-PICKLE)
            "api_key": api_key,
            "timeout": timeout,
            "max_documents": max_documents,
            "max_concurrency": max_concurrency,
            "max_response_bytes": max_response_bytes,
            **extensions,
        }
        self.api_key = APIKey.given(api_key, API_KEY_ENV)
        self.timeout = module_http_client_timeout_from_environment() if timeout is None else timeout
        if max_documents < 1:
            raise ConfigError(f"max_documents must be at least 1, not {max_documents}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self.max_documents = max_documents
        self.max_concurrency = max_concurrency or num_cpu()
        self.max_response_bytes = max_response_bytes
        self.transport = transport
        self.resolver = resolver
        self.extensions = checked_keywords(extensions, type(self).__name__) if extensions else {}
        """The extensions set at construction, checked; empty with Go's defaults."""
        self.extension_state: dict[str, Any] = {}
        """What the extensions keep for the client's life (auto's routes, the limiter, …)."""
        self.notices = DeprecationNotices()  # D-EXT-LIFECYCLE: one warning per model
        self._loop = EventLoopBinding()  # an AsyncClient's pool belongs to one event loop
        self.http = self._new_http()

    def _new_http(self) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_key={self.api_key!r}, timeout={self.timeout}, "
            f"max_documents={self.max_documents}, max_concurrency={self.max_concurrency})"
        )

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        """D-EXT-PICKLE: pickled by its settings; the pool is rebuilt where it is unpickled."""
        from ..extensions.pickling import reduce_client  # noqa: PLC0415 - only when pickled

        return reduce_client(self)

    def meta_info(self) -> dict[str, Any]:
        """``{"name": "Reranker - NVIDIA", "documentationHref": …}``."""
        return meta_info()

    def _call(
        self, query: str, documents: Iterable[Document], cfg: ClassConfig | None, headers: Any
    ) -> _Call:
        """A call's arguments checked, and its extensions settled, before anything is sent."""
        listed, all_text = checked_documents(query, documents)
        checked_config(cfg)
        if self.extensions or not all_text or extensions_given(cfg):
            from ..extensions.plan import Plan  # noqa: PLC0415 - the extensions: not on Go's path

            return Plan(self, cfg, listed, all_text).call(query, headers)
        return _Call(query, listed, cfg, headers, None, self.max_documents, self.max_concurrency)

    def _chunk_flow(self, call: _Call, index: int, chunk: list[Document]) -> RankFlow:
        first = index * call.size
        if call.plan is None:
            return perform_rank(self, call.query, chunk, call.cfg, call.headers, first_index=first)  # type: ignore[arg-type]
        return call.plan.flow(call, chunk, first)


@dataclass(slots=True)
class _Call:
    """One ``rank`` call, checked: its documents, settings, chunk size and workers."""

    query: str
    documents: list[Document]
    cfg: ClassConfig | None
    headers: HeaderSource
    plan: Plan | None
    size: int
    workers: int


class Client(_Client):
    """The synchronous client (Go's ``client``, built by ``New``).

    ``Client(api_key=None, timeout=None, *, max_documents=512, max_concurrency=None,
    transport=None, resolver=None, max_response_bytes=8 MiB, **extensions)``:
    ``api_key`` defaults to ``NVIDIA_APIKEY``, read once, at construction;
    ``timeout`` (seconds) to ``MODULES_CLIENT_TIMEOUT``, else 50 s; each decoded
    response body is capped at ``max_response_bytes``, 8 MiB by default, past
    which the call fails with :class:`ResponseTooLargeError` (D-BODY-CAP). The
    extensions are the keywords of ``reranker_nvidia.extensions.settings``, each
    off by default.

    Where a call goes: its class settings ``baseURL`` and ``model`` (``cfg``),
    else the client's ``base_url=`` and ``model=`` (D-EXT-CLIENT-DEFAULTS),
    else NVIDIA's public API, ``https://ai.api.nvidia.com``, with
    ``nvidia/rerank-qa-mistral-4b``; an ``X-Nvidia-Baseurl`` header wins over
    every base URL. For a self-hosted NIM give ``base_url="http://host:8000"``
    (no ``/v1``) and ``endpoint="ranking"``.
    """

    http: httpx.Client

    def _new_http(self) -> httpx.Client:
        return new_base_http_client(
            self.timeout,
            transport=self.transport,
            resolver=self.resolver,
            max_response_bytes=self.max_response_bytes,
        )

    @gc_held
    def rank(
        self,
        query: str,
        documents: Iterable[Document],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
        on_progress: ProgressCallback | None = None,
    ) -> RankResult:
        """Go's ``Rank``: a score for every document against ``query``, in input order.

        ``documents`` is any iterable of ``str`` (or :class:`Passage`); ``cfg`` a
        :class:`ClassConfig` such as ``ClassBasedModuleConfig.for_settings({...})``;
        ``headers`` the request headers Weaviate would see (``X-Nvidia-Api-Key``,
        ``X-Nvidia-Baseurl``). A chunk that fails fails the call, and chunks not
        yet sent are then not sent (D-CHUNK-STOP); so does Ctrl-C, at once.
        """
        call = self._call(query, documents, cfg, headers)
        chunks = chunk_documents(call.documents, call.size)
        results: list[list[DocumentScore]] = [[] for _ in chunks]
        progress = Progress(len(call.documents), on_progress)

        def run(i: int) -> None:  # each chunk writes its own slot: Go's lockGuard is not needed
            results[i] = drive(self._chunk_flow(call, i, chunks[i]), self._send, time.sleep)
            progress.add(len(chunks[i]))

        try:
            run_jobs(len(chunks), min(call.workers, len(chunks)), run, NAME, pool_of(self, NAME))
        except BaseException as err:
            if call.plan is None:
                raise
            return call.plan.failed(err)  # raises it, unless on_error says otherwise
        result = to_rank_result(call.query, results)
        return result if call.plan is None else call.plan.finished(result)

    def _send(self, post: Post) -> Answer:
        return send(self.http, post, self.max_response_bytes)

    def close(self) -> None:
        """Close the pooled connections; the chunk workers' idle threads end."""
        close_pool(self)
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Client):
    """The asynchronous client: :class:`Client`'s behaviour on anyio (asyncio or trio)."""

    http: httpx.AsyncClient

    def _new_http(self) -> httpx.AsyncClient:
        return new_async_base_http_client(
            self.timeout,
            transport=self.transport,
            resolver=self.resolver,
            max_response_bytes=self.max_response_bytes,
        )

    @gc_held
    async def rank(
        self,
        query: str,
        documents: Iterable[Document],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
        on_progress: ProgressCallback | None = None,
    ) -> RankResult:
        """The async twin of :meth:`Client.rank`.

        A client may be used from one event loop after another (``asyncio.run``
        twice): pooled connections belong to the loop that opened them, so a new
        loop gets a new pool.
        """
        import anyio  # noqa: PLC0415 - the sync client and the CLI never load anyio's core

        call = self._call(query, documents, cfg, headers)
        if self._loop.moved():
            self.http = self._new_http()
        chunks = chunk_documents(call.documents, call.size)
        results: list[list[DocumentScore]] = [[] for _ in chunks]
        progress = Progress(len(call.documents), on_progress)
        errors: list[Exception] = []
        limiter = anyio.Semaphore(max(min(call.workers, len(chunks)), 1))

        async def run(i: int, scope: anyio.CancelScope) -> None:
            async with limiter:
                if errors:
                    return
                try:
                    flow = self._chunk_flow(call, i, chunks[i])
                    results[i] = await drive_async(flow, self._send, anyio.sleep)
                except Exception as err:  # noqa: BLE001 - re-raised after the group
                    errors.append(err)
                    scope.cancel()
                    return
                progress.add(len(chunks[i]))

        try:
            async with anyio.create_task_group() as group:
                for i in range(len(chunks)):
                    group.start_soon(run, i, group.cancel_scope)
            if errors:
                raise errors[0]
        except BaseException as err:
            if call.plan is None:
                raise
            return call.plan.failed(err)  # raises it, unless on_error says otherwise
        result = to_rank_result(call.query, results)
        return result if call.plan is None else call.plan.finished(result)

    async def _send(self, post: Post) -> Answer:
        return await send_async(self.http, post, self.max_response_bytes)

    async def aclose(self) -> None:
        """Close the pooled connections (those of an earlier event loop went with it)."""
        if self._loop.moved():
            self.http = self._new_http()
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def to_rank_result(query: str, results: Iterable[Sequence[DocumentScore]]) -> RankResult:
    """The chunks' scores joined back in chunk order."""
    document_scores: list[DocumentScore] = []
    for chunk in results:
        document_scores.extend(chunk)
    return RankResult(query=query, document_scores=document_scores)


def perform_rank(
    c: _Client,
    query: str,
    documents: Sequence[str],
    cfg: ClassConfig | None,
    headers: HeaderSource,
    *,
    first_index: int = 0,
    route: GoRoute | None = None,
) -> RankFlow:
    """Go's ``performRank``: one chunk's request and answer, as a flow.

    ``first_index`` is where the chunk starts in the caller's documents, for
    errors that name a passage; ``route`` is an extension's route, body and
    answer (D-EXT-ENDPOINT, D-EXT-TRUNCATE, D-EXT-IMAGES), Go's when ``None``.
    """
    r = GO_ROUTE if route is None else route
    settings = ClassSettings(cfg)
    body = r.body(settings.model(), query, documents, first_index)
    url = r.url(c, headers, settings)
    try:
        gourl.parse(url)  # Go's NewRequestWithContext; what Do refuses is refused when sent
    except gourl.URLError as err:
        raise RequestBuildError(f"create POST request: {err}") from None
    api_key = r.api_key(c, headers)
    post = Post(url, request_headers(api_key), body)
    try:
        answer = yield post
        assert answer is not None
        if answer.status != 200:
            raise r.response_error(answer, post, first_index, len(documents), settings)
        if answer.announces_end_of_life:  # D-EXT-LIFECYCLE
            c.notices.notice(settings.model(), answer.headers)
        return r.document_scores(answer, documents)
    except RerankerError as err:
        scrubbed(err, post.secrets)  # D-SECRET-EVERY-COPY: every copy, the chain too
        raise


def get_rank_request(model: str, query: str, documents: Sequence[str]) -> dict[str, Any]:
    """The request body as JSON-ready data. ``truncate`` is never set, so never sent."""
    return {
        "model": model,
        "query": {"text": query},
        "passages": [{"text": document} for document in documents],
    }


def to_document_scores(
    documents: Sequence[str], rankings: Iterable[Ranking]
) -> list[DocumentScore]:
    """One score per document, placed by ``index``; the server's order does not matter.

    Go trusts the indices and panics when one is out of range or missing. Here
    every passage must be ranked exactly once, else :class:`InvalidRankingsError`
    (D-RANKINGS-INDEX). Rankings from the fast path of ``parse_rank_response``
    are placed from their plain lists, with the same checks and the same errors.
    """
    count = len(documents)
    placed = placed_logits(rankings, count)  # the fast path's, each passage once: at C speed
    if placed is not None:
        return list(map(DocumentScore, documents, placed))
    scores: list[float | None] = [None] * count
    if isinstance(rankings, PlainRankings) and rankings.passages == count:
        pairs: Iterable[tuple[int, float]] = zip(rankings.indices, rankings.logits, strict=True)
    else:
        pairs = ((ranking.index, ranking.logit) for ranking in rankings)
    received = 0
    for index, logit in pairs:
        received += 1
        if not 0 <= index < count:
            raise invalid_rankings(f"ranking index {index} is out of range for {count} passages")
        if scores[index] is not None:
            raise invalid_rankings(f"passage {index} is ranked more than once")
        scores[index] = logit
    if received != count:  # no index twice: fewer rankings leave a passage out
        missing = scores.index(None)
        raise invalid_rankings(
            f"passage {missing} has no ranking ({received} rankings for {count} passages)"
        )
    return list(map(DocumentScore, documents, scores))


def chunk_documents(documents: Sequence[_D], chunk_size: int) -> list[list[_D]]:
    """Consecutive slices of at most ``chunk_size`` documents; none for no documents."""
    return [list(documents[i : i + chunk_size]) for i in range(0, len(documents), chunk_size)]


def get_nvidia_url(
    headers: HeaderSource, base_url: str, *, resolver: Resolver | None = None
) -> str:
    """``{base URL}/v1/retrieval/nvidia/reranking``; ``X-Nvidia-Baseurl`` overrides the class.

    The header's value is validated (SSRF) when ``MODULES_VALIDATE_BASE_URL``
    is on.
    """
    passed = validated_base_url_from_header(headers, BASE_URL_HEADER, base_url, resolver=resolver)
    return without_trailing_slashes(passed) + RERANKING_PATH


def without_trailing_slashes(base_url: str) -> str:
    """D-BASEURL-SLASH: the base URL without the slashes ending its path, so no ``//v1``."""
    authority = base_url.find("://")
    keep = authority + 3 if authority != -1 else 0
    return base_url[:keep] + base_url[keep:].rstrip("/")


def get_api_key(headers: HeaderSource, api_key: str) -> str:
    """The ``X-Nvidia-Api-Key`` header, else the key read from ``NVIDIA_APIKEY`` at start."""
    from_header = get_value_from_context(headers, API_KEY_HEADER)
    if from_header:
        return from_header
    if api_key:
        return api_key
    raise MissingAPIKeyError(
        "Nvidia API Key: no api key found "
        "neither in request header: X-Nvidia-Api-Key "
        "nor in environment variable under NVIDIA_APIKEY"
    )


def get_response_error(
    status_code: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    secrets: Sequence[str] = (),
    first_index: int = 0,
) -> RerankerError:
    """The error for a non-200 answer: Go's three cases, word for word where Go answers.

    402 and 403 read ``{"detail": string}``, 422 reads ``{"detail": [{"msg": …}]}``:
    ``connection to NVIDIA API failed with status: N error: <detail>``, or
    ``failed to parse reranker error response (status N): …`` for a body that
    does not decode. Any other status: ``connection to NVIDIA API failed with
    status: N``. Where Go fails or says little, a helper of ``_error_dialects``
    says more, each named by its D-id. ``secrets`` are masked everywhere
    (D-SECRET-REDACT); ``first_index`` is where the request's passages start in
    the caller's documents (D-DETAIL-CUT).
    """
    answer = ErrorAnswer.read(status_code, body, headers, secrets, first_index)
    match status_code:
        case 402 | 403:
            res_402 = answer.decode(ResponseError402)
            if isinstance(res_402, ErrorResponseParseError):
                return listed_detail(answer, ResponseError422)  # D-DETAIL-LIST
            if res_402.detail is None:
                return answer.upstream(nim_message(answer) or "")  # D-DETAIL-MESSAGE
            return answer.upstream(res_402.detail)
        case 422:
            res_422 = answer.decode(ResponseError422)
            if isinstance(res_422, ErrorResponseParseError):
                detail = string_detail(answer, ResponseError402)  # D-DETAIL-STRING
                return res_422 if detail is None else answer.upstream(detail)
            if res_422.detail is None:
                return answer.upstream(nim_message(answer) or "")  # D-DETAIL-MESSAGE
            return answer.upstream(joined_msgs(answer, res_422.detail))  # D-422-JOIN
        case _ if 300 <= status_code < 400:
            return redirect_not_followed(answer)  # D-REDIRECT
        case _:
            return answer.upstream(more_than_the_status(answer, ResponseError402, ResponseError422))


# --------------------------------------------------------------------------
# Wire shapes: Go's private structs at the bottom of ranker.go, in Go's order.
# The request is written by get_rank_request for speed; RankRequest documents
# it and generates its JSON Schema. Plain classes: pydantic reads a body into
# one, and writes a schema, only once one is needed (_wire.py).
# --------------------------------------------------------------------------


class RankRequest(WireStruct, extra="forbid"):
    """The body of ``POST /v1/retrieval/nvidia/reranking``."""

    model: str
    query: Text
    passages: list[Text]
    truncate: str | None = None
    """Declared by Go, never sent."""


class Text(WireStruct, extra="forbid"):
    """``{"text": …}``: the query, or one passage."""

    text: str


class RankResponse(WireStruct):
    """The 200 body. Extra members (``usage``) are ignored, as in Go."""

    rankings: list[Ranking] | None = None


class Ranking(WireStruct, strict=True, allow_inf_nan=False):
    """One passage's score: its position in the request and the raw logit."""

    index: int
    logit: float


class ResponseError402(WireStruct):
    """The 402/403 body Go expects: ``{"detail": "…"}``."""

    detail: str | None = None


class ResponseError422(WireStruct):
    """The 422 body Go expects: ``{"detail": [{"msg": "…"}, …]}``."""

    detail: list[ErrorDetail] | None = None


class ErrorDetail(WireStruct):
    """One entry of a FastAPI-style 422 ``detail`` list."""

    msg: str | None = None


# --------------------------------------------------------------------------
# Python only: Go's json.Unmarshal of a 200, and Go's route as one object an
# extension's route can stand in for.
# --------------------------------------------------------------------------


def parse_rank_response(status: int, body: bytes, passages: int | None = None) -> Sequence[Ranking]:
    """The rankings of a 200 body, or :class:`ResponseParseError` with Go's prefix.

    With ``passages``, more rankings than passages are refused before any is
    built (D-RANKINGS-BOUND), and a body the fast check vouches for is read
    into plain lists (``_response_parse``); any other body is validated once.
    """
    if passages is not None:
        refuse_more_rankings_than(passages, body)  # D-RANKINGS-BOUND
        plain = plain_rankings(body, passages, lambda i, x: Ranking(index=i, logit=x))
        if plain is not None:
            return plain
    read = validated(body, RankResponse)
    if isinstance(read, RankResponse):
        return read.rankings or []
    raise parse_failure(status, read, body)  # D-PARSE-REASON


class GoRoute:
    """Go's route, body, key and answer, as ``perform_rank`` uses them.

    An extension's route (``extensions/endpoint.py``) offers the same methods;
    this one is Go's: ``getRankRequest``, ``getNvidiaUrl``, ``getApiKey``,
    ``getResponseError`` and ``toDocumentScores``.
    """

    endpoint = "retrieval"
    hinted = False

    def body(self, model: str, query: str, documents: Sequence[Any], first_index: int) -> bytes:
        return gojson.marshal_strings(get_rank_request(model, query, documents))  # checked once

    def url(self, c: _Client, headers: HeaderSource, settings: ClassSettings) -> str:
        return get_nvidia_url(headers, settings.base_url(), resolver=c.resolver)

    def api_key(self, c: _Client, headers: HeaderSource) -> str:
        return self.checked_key(get_api_key(headers, c.api_key.value), headers, c.api_key)

    @staticmethod
    def checked_key(key: str, headers: HeaderSource, own: APIKey) -> str:
        """D-KEY-HEADER: a key that is no header value is refused, naming where it came from."""
        if key:
            from_header = bool(get_value_from_context(headers, API_KEY_HEADER))
            check_api_key(key, f"{API_KEY_HEADER} header" if from_header else own.source)
        return key

    def response_error(
        self, answer: Answer, post: Post, first_index: int, passages: int, settings: ClassSettings
    ) -> RerankerError:
        err = get_response_error(
            answer.status,
            answer.body,
            answer.headers,
            secrets=post.secrets,
            first_index=first_index,
        )
        return refined_error(
            err,
            endpoint=self.endpoint,
            model=settings.model(),
            first_index=first_index,
            passages=passages,
            hinted=self.hinted,
            url=post.url,
        )

    def document_scores(self, answer: Answer, documents: Sequence[Any]) -> list[DocumentScore]:
        rankings = parse_rank_response(answer.status, answer.body, len(documents))
        return to_document_scores(documents, rankings)


GO_ROUTE = GoRoute()
