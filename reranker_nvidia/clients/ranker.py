"""The NVIDIA reranking client.

Port of modules/reranker-nvidia/clients/ranker.go, in Go's order: the client
and its constructor, ``Rank``, the chunk ranking, the request, scores and
chunks, the URL and key helpers, ``getResponseError``, and Go's wire structs
at the bottom. Documents are cut into chunks of ``max_documents`` (512), at
most ``max_concurrency`` chunks (the number of CPUs) are in flight at once,
and the scores come back in the order the documents were given. Each chunk is
one ``POST {baseURL}/v1/retrieval/nvidia/reranking`` (by default: see
D-EXT-ENDPOINT).

After Go's code come the Python-only parts: the I/O-free core that
:class:`Client` and :class:`AsyncClient` share (``prepare_request`` and
``finish_response``, the two halves of Go's ``performRank``), and
:class:`AsyncClient`. Sending is in ``_ranker_http``; the error dialects Go
does not read are in ``_ranker_errors``; the key's checks and masking in
``_ranker_secrets``; the argument checks in ``_ranker_args``; the sync
client's chunk workers in ``_ranker_pool``.

Deliberate differences from Go are marked ``D-…`` and listed, with the
contract case that pins each, in docs/divergences.md. The extensions, each
off by default (the ``endpoint``, ``truncate``, ``retries``,
``requests_per_minute`` and ``wait_ready`` arguments and class settings, and
image passages), take effect where a chunk is sent (Go's ``performRank`` is
``_perform_rank``, which picks the route, ``_rank_on``, which waits, limits
and retries, and ``_send``) and in the I/O-free core; what they do is in
``_endpoints``, ``_passages``, ``_lifecycle``, ``_retry_policy``,
``_rate_limit`` and ``_ready``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Annotated, Any, Self, TypeVar

import anyio
import httpx
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from .._gostd import json as gojson
from .._gostd import url as gourl
from .._gostd.context import HeaderSource
from ..config._extension_settings import Extensions
from ..config.class_settings import NAME, ClassSettings
from ..entities.moduletools.config import ClassConfig
from ..errors import (
    ConfigError,
    EndpointMismatchError,
    ErrorResponseParseError,
    InvalidRankingsError,
    MissingAPIKeyError,
    RedirectError,
    RequestBuildError,
    RerankerError,
    ResponseParseError,
    UpstreamError,
)
from ..modulecomponents._deadline import (
    DEFAULT_MAX_RESPONSE_BYTES,
    aread_capped,
    read_capped,
)
from ..modulecomponents.base_client import (
    new_async_base_http_client,
    new_base_http_client,
)
from ..modulecomponents.ent.rank_result import DocumentScore, RankResult
from ..modulecomponents.header_values import get_value_from_context
from ..modulecomponents.validate_baseurl import (
    Resolver,
    validated_base_url_from_header,
)
from ..usecases.config.environment import (
    module_http_client_timeout_from_environment,
)
from . import _endpoints as routes
from ._lifecycle import DeprecationNotices, retired
from ._passages import Passage, has_images, passage_text, wire_passages
from ._ranker_args import EventLoopBinding, checked_config, checked_documents
from ._ranker_errors import (
    ErrorAnswer,
    joined_msgs,
    list_detail,
    nim_message,
    nvcf_in_progress,
    rank_response_fault,
    redirect_not_followed,
    string_detail,
    text_body,
    token_limit,
)
from ._ranker_fast import PlainRankings, plain_rankings
from ._ranker_http import APIKey, Progress, build_request, transport_error
from ._ranker_pickle import reduce_client
from ._ranker_pool import close_pool, pool_of, run_jobs
from ._ranker_secrets import check_api_key, scrubbed
from ._rate_limit import RateLimiters
from ._ready import await_until_ready, wait_until_ready
from ._retry_policy import RetryPolicy
from .ranker_meta import meta_info

__all__ = [
    "API_KEY_ENV",
    "API_KEY_HEADER",
    "BASE_URL_HEADER",
    "MAX_DOCUMENTS",
    "RERANKING_PATH",
    "AsyncClient",
    "Client",
    "ErrorDetail",
    "PreparedRequest",
    "ProgressCallback",
    "RankRequest",
    "RankResponse",
    "Ranking",
    "ResponseError402",
    "ResponseError422",
    "Text",
    "chunk_documents",
    "finish_response",
    "get_api_key",
    "get_nvidia_url",
    "get_rank_request",
    "get_response_error",
    "num_cpu",
    "parse_rank_response",
    "prepare_request",
    "to_document_scores",
    "to_rank_result",
]

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

_D = TypeVar("_D")
_T = TypeVar("_T")


def num_cpu() -> int:
    """Go's ``runtime.NumCPU()``: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class _ClientBase:
    """Go's ``client`` struct, which both clients share: the key, the timeout, ``maxDocuments``."""

    def __init__(
        self,
        api_key: str | None,
        timeout: float | None,
        max_documents: int,
        max_concurrency: int | None,
        resolver: Resolver | None,
        *,
        init_kwargs: dict[str, object] | None = None,
    ) -> None:
        self._init_kwargs: dict[str, object] = dict(init_kwargs or {})
        """What the client was built with, but ``transport`` and ``resolver`` (for pickling)."""
        extensions = {
            name: self._init_kwargs[name]
            for name in ("endpoint", "truncate", "retries", "requests_per_minute", "wait_ready")
            if name in self._init_kwargs
        }
        if timeout is None:  # as the module reads it: MODULES_CLIENT_TIMEOUT, else 50 s
            timeout = module_http_client_timeout_from_environment()
        if max_documents < 1:
            raise ConfigError(f"max_documents must be at least 1, not {max_documents}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, not {max_concurrency}")
        # The arguments keep their own checks (max_documents has no upper bound here, so
        # NIM's own refusal of more than 512 passages stays reachable); class settings are
        # checked by Extensions.merged, 512 at most.
        self._extensions = replace(
            Extensions.checked(**extensions),
            max_documents=max_documents,
            max_concurrency=max_concurrency,
        )
        self._api_key = APIKey(os.environ.get(API_KEY_ENV, "") if api_key is None else api_key)
        self._api_key_source = API_KEY_ENV if api_key is None else "the api_key argument"
        self.timeout = timeout
        self.max_documents = max_documents
        self.max_concurrency = max_concurrency or num_cpu()
        self._resolver = resolver
        self._routes = routes.RouteMemory()  # D-EXT-ENDPOINT: auto's winner per base URL
        self._ready = routes.OncePerKey()  # D-EXT-WAIT-READY: one wait per base URL
        self._limiters = RateLimiters()  # D-EXT-RPM: one limiter per rate, for every chunk
        self._notices = DeprecationNotices()  # D-EXT-LIFECYCLE: one warning per model

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_key={self._api_key!r}, timeout={self.timeout}, "
            f"max_documents={self.max_documents}, max_concurrency={self.max_concurrency})"
        )

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        """D-EXT-PICKLE: pickled by its settings; the pool is rebuilt where it is unpickled."""
        return reduce_client(self)

    def meta_info(self) -> dict[str, Any]:
        """``{"name": "Reranker - NVIDIA", "documentationHref": …}``."""
        return meta_info()

    def _prepare(
        self,
        query: str,
        documents: Sequence[Document],
        cfg: ClassConfig | None,
        headers: HeaderSource,
        *,
        endpoint: str = routes.RETRIEVAL,
        truncate: str | None = None,
        first_index: int = 0,
    ) -> PreparedRequest:
        return prepare_request(
            query,
            documents,
            cfg,
            headers,
            self._api_key.value,
            resolver=self._resolver,
            key_source=self._api_key_source,
            endpoint=endpoint,
            truncate=truncate,
            first_index=first_index,
        )

    # Python only: the extensions' plumbing, shared by both clients.

    def _call_settings(self, cfg: ClassConfig | None) -> Extensions:
        """The client's settings with the call's class settings over them (ConfigError if bad)."""
        return self._extensions.merged(cfg)

    def _base_url(self, cfg: ClassConfig | None, headers: HeaderSource) -> str:
        """The base URL a chunk goes to (header over class), validated as Go validates it."""
        passed = validated_base_url_from_header(
            headers, BASE_URL_HEADER, ClassSettings(cfg).base_url(), resolver=self._resolver
        )
        return _without_trailing_slashes(passed)

    def _skipped(self, endpoint: str, headers: HeaderSource, images: bool) -> str | None:
        """Why ``auto`` does not try ``endpoint`` (it could not be sent), or ``None``."""
        if routes.needs_key(endpoint) and not (
            get_value_from_context(headers, API_KEY_HEADER) or self._api_key.value
        ):
            return "not tried: no API key"
        if endpoint == routes.RERANK and images:
            return "not tried: it takes no images"
        return None

    def _finish(
        self,
        prepared: PreparedRequest,
        response: httpx.Response,
        body: bytes,
        documents: Sequence[Document],
        *,
        first_index: int,
        endpoint: str,
        ext: Extensions,
    ) -> list[DocumentScore]:
        model = prepared.model
        if response.status_code == 200:
            self._notices.notice(model, response.headers)  # D-EXT-LIFECYCLE
        return finish_response(
            response.status_code,
            response.headers,
            body,
            _texts(documents),
            secrets=prepared.secrets,
            first_index=first_index,
            endpoint=endpoint,
            model=model,
            hinted=ext.endpoint != routes.RETRIEVAL or ext.truncate is not None,
        )


class Client(_ClientBase):
    """The synchronous client (Go's ``client``, built by ``New``).

    ``api_key`` defaults to ``NVIDIA_APIKEY``, read once, here. ``timeout`` is
    in seconds and covers each request's attempts and body; zero or less means
    none; when not given it is read as the module reads it, from
    ``MODULES_CLIENT_TIMEOUT`` (a Go duration), else 50 s. ``transport``
    swaps the network layer (``httpx.MockTransport``, …); ``resolver`` swaps
    DNS for SSRF checks and the dial guard. ``max_response_bytes`` caps each
    decoded response body, 8 MiB by default; past it the call fails with
    :class:`ResponseTooLargeError` (D-BODY-CAP).

    The extensions, each off by default and each also a class setting, which
    wins for its call: ``endpoint`` (``"retrieval"``, Go's route; ``"model"``,
    ``"ranking"``, ``"rerank"``, ``"auto"``; D-EXT-ENDPOINT), ``truncate``
    (``"NONE"`` or ``"END"``; D-EXT-TRUNCATE), ``retries`` (D-EXT-RETRIES),
    ``requests_per_minute`` (D-EXT-RPM) and ``wait_ready`` (seconds;
    D-EXT-WAIT-READY).
    """

    def __init__(
        self,
        api_key: str | None = None,
        timeout: float | None = None,
        *,
        max_documents: int = MAX_DOCUMENTS,
        max_concurrency: int | None = None,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        endpoint: str = "retrieval",
        truncate: str | None = None,
        retries: int = 0,
        requests_per_minute: float | None = None,
        wait_ready: float | None = None,
    ) -> None:
        super().__init__(
            api_key,
            timeout,
            max_documents,
            max_concurrency,
            resolver,
            init_kwargs={
                "api_key": api_key,
                "timeout": timeout,
                "max_documents": max_documents,
                "max_concurrency": max_concurrency,
                "max_response_bytes": max_response_bytes,
                "endpoint": endpoint,
                "truncate": truncate,
                "retries": retries,
                "requests_per_minute": requests_per_minute,
                "wait_ready": wait_ready,
            },
        )
        self.max_response_bytes = max_response_bytes
        self._http = new_base_http_client(
            self.timeout,
            transport=transport,
            resolver=resolver,
            max_response_bytes=max_response_bytes,
        )

    def rank(
        self,
        query: str,
        documents: Iterable[Document],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
        on_progress: ProgressCallback | None = None,
    ) -> RankResult:
        """Score every document against ``query``; scores come back in input order.

        ``documents`` is any iterable of ``str`` or :class:`Passage` (a bare
        ``str`` is a ``TypeError``); ``cfg`` a :class:`ClassConfig` such as
        ``ClassBasedModuleConfig.for_settings({...})``. ``headers`` are the
        request headers Weaviate would see (``X-Nvidia-Api-Key``,
        ``X-Nvidia-Baseurl``; any letter case). A chunk that fails fails the
        whole call, and chunks not yet sent are then not sent (D-CHUNK-STOP);
        so does Ctrl-C, which is raised at once, the chunks in flight left to
        finish on their own.
        """
        documents = checked_documents(query, documents)
        checked_config(cfg)
        ext = self._call_settings(cfg)
        checked_passages(documents, ext.endpoint)  # D-EXT-IMAGES: before anything is sent
        size = ext.max_documents  # D-EXT-LIMITS: a class setting wins
        chunks = chunk_documents(documents, size)
        total = len(documents)
        if not chunks:
            return RankResult(query=query, document_scores=[])
        # Each chunk writes only its own slot, so Go's lockGuard has nothing to guard here.
        results: list[list[DocumentScore]] = [[] for _ in chunks]
        progress = Progress(total, on_progress)
        workers = min(ext.max_concurrency or self.max_concurrency, len(chunks))
        if workers == 1:
            for i, chunk in enumerate(chunks):
                results[i] = self._perform_rank(query, chunk, cfg, headers, i * size, ext=ext)
                progress.add(len(chunk))
            return to_rank_result(query, results)

        def run(i: int) -> None:
            results[i] = self._perform_rank(query, chunks[i], cfg, headers, i * size, ext=ext)
            progress.add(len(chunks[i]))

        run_jobs(len(chunks), workers, run, NAME, pool_of(self, NAME))
        return to_rank_result(query, results)

    def _perform_rank(
        self,
        query: str,
        documents: Sequence[Document],
        cfg: ClassConfig | None,
        headers: HeaderSource,
        first_index: int = 0,
        *,
        ext: Extensions | None = None,
    ) -> list[DocumentScore]:
        ext = self._extensions if ext is None else ext
        if ext.endpoint != routes.AUTO:
            return self._rank_on(
                ext.endpoint, query, documents, cfg, headers, first_index=first_index, ext=ext
            )
        # D-EXT-ENDPOINT: the first chunk for a base URL probes; the others wait for its winner
        base_url = self._base_url(cfg, headers)

        def send(endpoint: str) -> list[DocumentScore]:
            return self._rank_on(
                endpoint, query, documents, cfg, headers, first_index=first_index, ext=ext
            )

        def probe() -> list[DocumentScore]:
            images = has_images(documents)
            tried: list[tuple[str, str, UpstreamError | str]] = []
            for endpoint in routes.PROBE_ORDER:
                url = base_url + routes.route_path(endpoint, ClassSettings(cfg).model())
                skipped = self._skipped(endpoint, headers, images)
                if skipped is not None:
                    tried.append((endpoint, url, skipped))
                    continue
                try:
                    scores = send(endpoint)
                except UpstreamError as err:
                    if not routes.does_not_fit(err):
                        raise
                    tried.append((endpoint, url, err))
                    continue
                self._routes.remember(base_url, endpoint)
                return scores
            raise _mismatch(base_url, tried)

        return self._routes.run(base_url, send, probe)

    def _rank_on(
        self,
        endpoint: str,
        query: str,
        documents: Sequence[Document],
        cfg: ClassConfig | None,
        headers: HeaderSource,
        *,
        first_index: int,
        ext: Extensions,
    ) -> list[DocumentScore]:
        """One chunk on one route: Go's ``performRank``, with the extensions around the send."""
        prepared = self._prepare(
            query,
            documents,
            cfg,
            headers,
            endpoint=endpoint,
            truncate=ext.truncate,
            first_index=first_index,
        )
        wait_ready = ext.wait_ready
        if wait_ready is not None:  # D-EXT-WAIT-READY: before the first request per base URL
            base_url = prepared.base_url
            self._ready.run(base_url, lambda: wait_until_ready(self._http, base_url, wait_ready))
        rpm = ext.requests_per_minute
        limiter = None if rpm is None else self._limiters.get(rpm)  # D-EXT-RPM

        def attempt() -> list[DocumentScore]:
            if limiter is not None:
                limiter.acquire()
            return self._send(prepared, documents, first_index, endpoint, ext)

        try:
            # D-EXT-RETRIES: RetryPolicy(0), the default, calls attempt once and changes nothing
            return RetryPolicy(ext.retries).run(attempt, timeout=self.timeout)
        except RerankerError as err:
            scrubbed(err, prepared.secrets)  # D-SECRET-EVERY-COPY: every copy, the chain too
            raise

    def _send(
        self,
        prepared: PreparedRequest,
        documents: Sequence[Document],
        first_index: int,
        endpoint: str,
        ext: Extensions,
    ) -> list[DocumentScore]:
        try:
            request = build_request(self._http, prepared.url, prepared.headers, prepared.body)
            if ext.requests_per_minute is not None:  # D-EXT-RPM: next start counts from the wire
                request.extensions["trace"] = self._limiters.get(ext.requests_per_minute).trace
            try:
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as err:
                raise transport_error(err, prepared.url) from err
            try:
                body = read_capped(response, self.max_response_bytes)
            except httpx.HTTPError as err:
                raise transport_error(err, prepared.url, reading=True) from err
            finally:
                response.close()
            return self._finish(
                prepared,
                response,
                body,
                documents,
                first_index=first_index,
                endpoint=endpoint,
                ext=ext,
            )
        except RerankerError as err:
            scrubbed(err, prepared.secrets)  # D-SECRET-EVERY-COPY: every copy, the chain too
            raise

    def close(self) -> None:
        """Close the pooled connections."""
        close_pool(self)  # the chunk workers' idle threads end
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def to_rank_result(query: str, results: Iterable[Sequence[DocumentScore]]) -> RankResult:
    """The chunks' scores joined back in chunk order."""
    document_scores: list[DocumentScore] = []
    for chunk in results:
        document_scores.extend(chunk)
    return RankResult(query=query, document_scores=document_scores)


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
    scores: list[float | None] = [None] * count
    if isinstance(rankings, PlainRankings) and rankings.passages == count:
        indices = rankings.indices  # every one inside 0..count-1 already
        for index, logit in zip(indices, rankings.logits, strict=True):
            if scores[index] is not None:
                raise InvalidRankingsError(
                    "failed to parse reranker response (status 200): "
                    f"passage {index} is ranked more than once"
                )
            scores[index] = logit
        if len(indices) != count:  # no index twice: fewer rankings leave a passage out
            raise InvalidRankingsError(
                "failed to parse reranker response (status 200): "
                f"passage {scores.index(None)} has no ranking "
                f"({len(indices)} rankings for {count} passages)"
            )
        return list(map(DocumentScore, documents, scores))  # type: ignore[arg-type]
    received = 0
    for ranking in rankings:
        received += 1
        index = ranking.index
        if not 0 <= index < count:
            raise InvalidRankingsError(
                "failed to parse reranker response (status 200): "
                f"ranking index {index} is out of range for {count} passages"
            )
        if scores[index] is not None:
            raise InvalidRankingsError(
                "failed to parse reranker response (status 200): "
                f"passage {index} is ranked more than once"
            )
        scores[index] = ranking.logit
    out: list[DocumentScore] = []
    for index, score in enumerate(scores):
        if score is None:
            raise InvalidRankingsError(
                "failed to parse reranker response (status 200): "
                f"passage {index} has no ranking ({received} rankings for {count} passages)"
            )
        out.append(DocumentScore(document=documents[index], score=score))
    return out


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
    return _without_trailing_slashes(passed) + RERANKING_PATH


def _without_trailing_slashes(base_url: str) -> str:
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
    status: N``. Where Go fails or says little, a helper of ``_ranker_errors``
    says more, each named in a comment by its D-id. ``secrets`` are masked
    everywhere (D-SECRET-REDACT); ``first_index`` is where the request's
    passages start in the caller's documents (D-DETAIL-CUT).
    """
    answer = ErrorAnswer.read(status_code, body, headers, secrets, first_index)
    match status_code:
        case 402 | 403:
            res_402 = answer.decode(ResponseError402)
            if isinstance(res_402, ErrorResponseParseError):
                return _listed_detail(answer)  # D-DETAIL-LIST
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
            return answer.upstream(_more_than_the_status(answer))


def _listed_detail(answer: ErrorAnswer) -> RerankerError:
    """D-DETAIL-LIST for 402/403: a FastAPI list where Go wants a string, read as 422 reads it."""
    res_422 = answer.decode(ResponseError422)
    if isinstance(res_422, ErrorResponseParseError):
        return res_422
    return answer.upstream(joined_msgs(answer, res_422.detail or []))


def _more_than_the_status(answer: ErrorAnswer) -> str | None:
    """For any other status, the first text a dialect gives; ``None`` keeps Go's bare status."""
    said = (
        string_detail(answer, ResponseError402),  # D-DETAIL-STRING
        list_detail(answer, ResponseError422),  # D-DETAIL-LIST
        nim_message(answer),  # D-DETAIL-MESSAGE
        text_body(answer),  # D-TEXT-BODY
        nvcf_in_progress(answer),  # D-NVCF-202
    )
    return next((text for text in said if text is not None), None)


# --------------------------------------------------------------------------
# Wire shapes: Go's private structs at the bottom of ranker.go, in Go's order.
# The request is written by get_rank_request for speed; RankRequest documents
# it and generates its JSON Schema.
# --------------------------------------------------------------------------


class RankRequest(BaseModel):
    """The body of ``POST /v1/retrieval/nvidia/reranking``."""

    model_config = ConfigDict(extra="forbid")

    model: str
    query: Text
    passages: list[Text]
    truncate: str | None = Field(default=None, description="Declared by Go, never sent.")


class Text(BaseModel):
    """``{"text": …}``: the query, or one passage."""

    model_config = ConfigDict(extra="forbid")

    text: str


class RankResponse(BaseModel):
    """The 200 body. Extra members (``usage``) are ignored, as in Go."""

    rankings: list[Ranking] | None = None


class Ranking(BaseModel):
    """One passage's score: its position in the request and the raw logit."""

    index: StrictInt
    logit: Annotated[StrictFloat, Field(allow_inf_nan=False)]


class ResponseError402(BaseModel):
    """The 402/403 body Go expects: ``{"detail": "…"}``."""

    detail: str | None = None


class ResponseError422(BaseModel):
    """The 422 body Go expects: ``{"detail": [{"msg": "…"}, …]}``."""

    detail: list[ErrorDetail] | None = None


class ErrorDetail(BaseModel):
    """One entry of a FastAPI-style 422 ``detail`` list."""

    msg: str | None = None


# In Go's order a struct may come before the one it holds: resolve those names now.
RankRequest.model_rebuild()
RankResponse.model_rebuild()
ResponseError422.model_rebuild()


# --------------------------------------------------------------------------
# Python only: the I/O-free core that Client and AsyncClient share
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One chunk's request, ready to send. ``repr`` hides the ``Authorization`` value."""

    url: str
    headers: dict[str, str]
    body: bytes
    base_url: str = ""
    """The base URL the request goes to, without trailing slashes."""
    model: str = ""
    """The model the body names."""

    def __repr__(self) -> str:
        shown = {k: ("Bearer ***" if k == "Authorization" else v) for k, v in self.headers.items()}
        return (
            f"PreparedRequest(url={self.url!r}, headers={shown!r}, body=<{len(self.body)} bytes>)"
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no error may show: the key this request carries (D-SECRET-REDACT)."""
        authorization = self.headers.get("Authorization")
        if authorization is None:  # D-EXT-ENDPOINT: a keyless request to a self-hosted NIM
            return ()
        return (authorization.removeprefix("Bearer "),)


def prepare_request(
    query: str,
    documents: Sequence[Document],
    cfg: ClassConfig | None,
    headers: HeaderSource,
    api_key: str,
    *,
    resolver: Resolver | None = None,
    key_source: str = API_KEY_ENV,
    endpoint: str = "retrieval",
    truncate: str | None = None,
    first_index: int = 0,
) -> PreparedRequest:
    """The first half of Go's ``performRank``, up to ``Do``, in Go's order of checks.

    Raises :class:`BaseURLError` (header base URL), :class:`RequestBuildError`
    (an unparsable URL), then :class:`MissingAPIKeyError`, or
    :class:`InvalidAPIKeyError` for a key that is not a valid header value
    (D-KEY-HEADER; ``key_source`` names where ``api_key`` came from). What
    ``Do`` refuses is refused when the request is sent. ``endpoint`` and
    ``truncate`` are the extensions' (D-EXT-ENDPOINT, D-EXT-TRUNCATE); with
    their defaults the request is Go's. ``first_index`` is the chunk's offset,
    for a passage's index in an :class:`InvalidPassageError`.
    """
    settings = ClassSettings(cfg)
    model = settings.model()
    if endpoint == routes.RETRIEVAL and truncate is None and _all_text(documents):
        body = gojson.marshal(get_rank_request(model, query, documents))  # type: ignore[arg-type]
    else:  # D-EXT-ENDPOINT, D-EXT-TRUNCATE, D-EXT-IMAGES
        passages = wire_passages(documents, first_index)
        if endpoint == routes.RERANK:
            routes.refuse_images(passages, first_index)
        body = gojson.marshal(routes.request_body(endpoint, model, query, passages, truncate))
    if endpoint == routes.RETRIEVAL:
        url = get_nvidia_url(headers, settings.base_url(), resolver=resolver)
        base_url = url.removesuffix(RERANKING_PATH)
    else:  # D-EXT-ENDPOINT
        passed = validated_base_url_from_header(
            headers, BASE_URL_HEADER, settings.base_url(), resolver=resolver
        )
        base_url = _without_trailing_slashes(passed)
        url = base_url + routes.route_path(endpoint, model)
    try:
        gourl.parse(url)
    except gourl.URLError as err:
        raise RequestBuildError(f"create POST request: {err}") from None
    wire_headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if routes.needs_key(endpoint):
        key = get_api_key(headers, api_key)
    else:  # D-EXT-ENDPOINT: a stock self-hosted NIM needs no key, so none is demanded
        key = get_value_from_context(headers, API_KEY_HEADER) or api_key
    if key:
        from_header = bool(get_value_from_context(headers, API_KEY_HEADER))
        check_api_key(
            key, f"{API_KEY_HEADER} header" if from_header else key_source
        )  # D-KEY-HEADER
        wire_headers = {"Authorization": f"Bearer {key}", **wire_headers}
    return PreparedRequest(url=url, headers=wire_headers, body=body, base_url=base_url, model=model)


def _all_text(documents: Sequence[Document]) -> bool:
    return all(isinstance(document, str) for document in documents)


def checked_passages(documents: Sequence[Document], endpoint: str) -> None:
    """D-EXT-IMAGES: every passage checked by NIM 2.4's rules before any chunk is sent."""
    if _all_text(documents):
        return
    passages = wire_passages(documents)
    if endpoint == routes.RERANK:
        routes.refuse_images(passages, 0)


def _texts(documents: Sequence[Document]) -> Sequence[str]:
    """The documents' texts, as scores report them (the list itself when all are text)."""
    if _all_text(documents):
        return documents  # type: ignore[return-value]
    return [passage_text(document) for document in documents]


def _mismatch(base_url: str, tried: list[tuple[str, str, UpstreamError | str]]) -> RerankerError:
    """D-EXT-ENDPOINT: every route tried and what it answered, in one line."""
    lines = []
    answered: list[tuple[str, str, int, str]] = []
    last: UpstreamError | None = None
    for endpoint, url, outcome in tried:
        if isinstance(outcome, str):
            lines.append(f"{endpoint} {outcome}")
            continue
        last = outcome
        lines.append(routes.mismatch_line(endpoint, url, outcome))
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


def finish_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    documents: Sequence[str],
    *,
    secrets: Sequence[str] = (),
    first_index: int = 0,
    endpoint: str = "retrieval",
    model: str = "",
    hinted: bool = False,
) -> list[DocumentScore]:
    """The second half of Go's ``performRank``: the answer turned into scores or an error.

    ``endpoint`` says how to read a 200 (the gateway's ``results``,
    D-EXT-ENDPOINT); ``model`` and ``hinted`` how to word an error: the error
    is refined (:func:`refined_error`), and with ``hinted`` its hint ends the
    message.
    """
    if status_code != 200:
        err = get_response_error(
            status_code, body, headers, secrets=secrets, first_index=first_index
        )
        raise refined_error(
            err,
            endpoint=endpoint,
            model=model,
            first_index=first_index,
            passages=len(documents),
            hinted=hinted,
        )
    if endpoint == routes.RERANK:  # D-EXT-ENDPOINT: the gateway's results, read as rankings
        results = routes.parse_rerank_response(status_code, body, len(documents))
        rankings = [
            Ranking.model_construct(index=result.index, logit=result.relevance_score)
            for result in results
        ]
        return to_document_scores(documents, rankings)
    return to_document_scores(documents, parse_rank_response(status_code, body, len(documents)))


def refined_error(
    err: RerankerError,
    *,
    endpoint: str = "retrieval",
    model: str = "",
    first_index: int = 0,
    passages: int = 0,
    hinted: bool = False,
) -> RerankerError:
    """An upstream error as the extensions name it; its message is Go's unless ``hinted``.

    A token overflow is a :class:`TokenLimitError` (D-EXT-TOKEN-LIMIT), a 410 a
    :class:`ModelRetiredError` (D-EXT-LIFECYCLE), a 404 from a route that
    does not fit gets a hint naming the endpoint that would (D-EXT-ENDPOINT).
    """
    if not isinstance(err, UpstreamError) or isinstance(err, RedirectError):
        return err
    refined: UpstreamError = err
    if err.status == 410:
        return retired(err, model, plain=hinted)
    if err.status in (400, 422):
        refined = token_limit(err, first_index, passages) or err
    elif err.status == 404:
        refined.hint = routes.hint_for(err, endpoint, model)
    if hinted and refined.hint:
        refined.args = (f"{refined.args[0]}; {refined.hint}", *refined.args[1:])
    return refined


def parse_rank_response(status: int, body: bytes, passages: int | None = None) -> Sequence[Ranking]:
    """The rankings of a 200 body, or :class:`ResponseParseError` with Go's prefix.

    A good body is validated once. Invalid UTF-8 is read as U+FFFD, as Go's
    decoder does, rather than refused. With ``passages``, more rankings than
    passages are refused before any is built (D-RANKINGS-BOUND), and a body
    the fast check of ``_ranker_fast`` vouches for is read into plain lists,
    no model per ranking; any other body is validated here, as it always was.
    """
    if passages is not None:
        _refuse_more_rankings_than(passages, body)  # D-RANKINGS-BOUND
        # Values the fast check has vouched for: built without validating them again.
        plain = plain_rankings(
            body, passages, lambda i, x: Ranking.model_construct(index=i, logit=x)
        )
        if plain is not None:
            return plain
    fault = _validation_fault(body)
    if isinstance(fault, list):
        return fault
    if (
        fault is not None
        and fault.errors(include_input=False)[0]["type"] == "json_invalid"
        and not _is_utf8(body)
    ):
        body = body.decode("utf-8", "replace").encode("utf-8")
        fault = _validation_fault(body)
        if isinstance(fault, list):
            return fault
    if fault is None:  # D-PARSE-REASON: a number Python's int parser refuses
        reason = "json: a number has more digits than can be read"
    else:
        reason = rank_response_fault(fault, body)  # D-PARSE-REASON
    raise ResponseParseError(
        f"failed to parse reranker response (status {status}): {reason}", status=status
    )


def _validation_fault(body: bytes) -> list[Ranking] | ValidationError | None:
    """The rankings, or the fault; ``None`` for a number too long for Python's int parser."""
    try:
        return RankResponse.model_validate_json(body).rankings or []
    except ValidationError as err:
        return err
    except ValueError:
        return None


def _refuse_more_rankings_than(passages: int, body: bytes) -> None:
    """D-RANKINGS-BOUND: more rankings than passages, refused before any ranking is built.

    Each ranking is an object, so a body with no more ``{`` than passages
    cannot hold too many, and is not looked at twice. Otherwise the rankings
    are counted on plain JSON values, a fraction of the time and memory of
    validated ones; a body that does not parse is left to the validation.
    """
    if body.count(b"{") - 1 <= passages:
        return
    try:
        document = pydantic_core.from_json(body)
    except ValueError:
        return
    rankings = document.get("rankings") if isinstance(document, dict) else None
    if isinstance(rankings, list) and len(rankings) > passages:
        raise InvalidRankingsError(
            "failed to parse reranker response (status 200): "
            f"{len(rankings)} rankings for {passages} passages, more than one per passage"
        )


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------
# Python only: the asynchronous client
# --------------------------------------------------------------------------


class AsyncClient(_ClientBase):
    """The asynchronous client: :class:`Client`'s behaviour on anyio (asyncio or trio)."""

    def __init__(
        self,
        api_key: str | None = None,
        timeout: float | None = None,
        *,
        max_documents: int = MAX_DOCUMENTS,
        max_concurrency: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        endpoint: str = "retrieval",
        truncate: str | None = None,
        retries: int = 0,
        requests_per_minute: float | None = None,
        wait_ready: float | None = None,
    ) -> None:
        super().__init__(
            api_key,
            timeout,
            max_documents,
            max_concurrency,
            resolver,
            init_kwargs={
                "api_key": api_key,
                "timeout": timeout,
                "max_documents": max_documents,
                "max_concurrency": max_concurrency,
                "max_response_bytes": max_response_bytes,
                "endpoint": endpoint,
                "truncate": truncate,
                "retries": retries,
                "requests_per_minute": requests_per_minute,
                "wait_ready": wait_ready,
            },
        )
        self.max_response_bytes = max_response_bytes
        self._transport = transport
        self._http = self._new_http()
        self._loop = EventLoopBinding()

    def _new_http(self) -> httpx.AsyncClient:
        return new_async_base_http_client(
            self.timeout,
            transport=self._transport,
            resolver=self._resolver,
            max_response_bytes=self.max_response_bytes,
        )

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
        twice): pooled connections belong to the loop that opened them, so a
        new loop gets a new pool.
        """
        documents = checked_documents(query, documents)
        checked_config(cfg)
        ext = self._call_settings(cfg)
        checked_passages(documents, ext.endpoint)  # D-EXT-IMAGES: before anything is sent
        if self._loop.moved():
            self._http = self._new_http()
        size = ext.max_documents  # D-EXT-LIMITS: a class setting wins
        chunks = chunk_documents(documents, size)
        if not chunks:
            return RankResult(query=query, document_scores=[])
        results: list[list[DocumentScore]] = [[] for _ in chunks]
        progress = Progress(len(documents), on_progress)
        errors: list[Exception] = []
        limiter = anyio.Semaphore(min(ext.max_concurrency or self.max_concurrency, len(chunks)))

        async def run(i: int, scope: anyio.CancelScope) -> None:
            async with limiter:
                if errors:
                    return
                try:
                    results[i] = await self._perform_rank(
                        query, chunks[i], cfg, headers, i * size, ext=ext
                    )
                except Exception as err:  # noqa: BLE001 - re-raised after the group
                    errors.append(err)
                    scope.cancel()
                    return
                progress.add(len(chunks[i]))

        async with anyio.create_task_group() as group:
            for i in range(len(chunks)):
                group.start_soon(run, i, group.cancel_scope)
        if errors:
            raise errors[0]
        return to_rank_result(query, results)

    async def _perform_rank(
        self,
        query: str,
        documents: Sequence[Document],
        cfg: ClassConfig | None,
        headers: HeaderSource,
        first_index: int = 0,
        *,
        ext: Extensions | None = None,
    ) -> list[DocumentScore]:
        ext = self._extensions if ext is None else ext
        if ext.endpoint != routes.AUTO:
            return await self._rank_on(
                ext.endpoint, query, documents, cfg, headers, first_index=first_index, ext=ext
            )
        # D-EXT-ENDPOINT: the first chunk for a base URL probes; the others wait for its winner
        base_url = self._base_url(cfg, headers)

        async def send(endpoint: str) -> list[DocumentScore]:
            return await self._rank_on(
                endpoint, query, documents, cfg, headers, first_index=first_index, ext=ext
            )

        async def probe() -> list[DocumentScore]:
            images = has_images(documents)
            tried: list[tuple[str, str, UpstreamError | str]] = []
            for endpoint in routes.PROBE_ORDER:
                url = base_url + routes.route_path(endpoint, ClassSettings(cfg).model())
                skipped = self._skipped(endpoint, headers, images)
                if skipped is not None:
                    tried.append((endpoint, url, skipped))
                    continue
                try:
                    scores = await send(endpoint)
                except UpstreamError as err:
                    if not routes.does_not_fit(err):
                        raise
                    tried.append((endpoint, url, err))
                    continue
                self._routes.remember(base_url, endpoint)
                return scores
            raise _mismatch(base_url, tried)

        return await self._routes.arun(base_url, send, probe)

    async def _rank_on(
        self,
        endpoint: str,
        query: str,
        documents: Sequence[Document],
        cfg: ClassConfig | None,
        headers: HeaderSource,
        *,
        first_index: int,
        ext: Extensions,
    ) -> list[DocumentScore]:
        """The async twin of :meth:`Client._rank_on`."""
        prepared = self._prepare(
            query,
            documents,
            cfg,
            headers,
            endpoint=endpoint,
            truncate=ext.truncate,
            first_index=first_index,
        )
        wait_ready = ext.wait_ready
        if wait_ready is not None:  # D-EXT-WAIT-READY: before the first request per base URL
            base_url = prepared.base_url

            async def wait() -> None:
                await await_until_ready(self._http, base_url, wait_ready)

            await self._ready.arun(base_url, wait)
        rpm = ext.requests_per_minute
        limiter = None if rpm is None else self._limiters.get(rpm)  # D-EXT-RPM

        async def attempt() -> list[DocumentScore]:
            if limiter is not None:
                await limiter.aacquire()
            return await self._send(prepared, documents, first_index, endpoint, ext)

        try:
            # D-EXT-RETRIES: RetryPolicy(0), the default, calls attempt once and changes nothing
            return await RetryPolicy(ext.retries).arun(attempt, timeout=self.timeout)
        except RerankerError as err:
            scrubbed(err, prepared.secrets)  # D-SECRET-EVERY-COPY: every copy, the chain too
            raise

    async def _send(
        self,
        prepared: PreparedRequest,
        documents: Sequence[Document],
        first_index: int,
        endpoint: str,
        ext: Extensions,
    ) -> list[DocumentScore]:
        try:
            request = build_request(self._http, prepared.url, prepared.headers, prepared.body)
            if ext.requests_per_minute is not None:  # D-EXT-RPM: next start counts from the wire
                request.extensions["trace"] = self._limiters.get(ext.requests_per_minute).atrace
            try:
                response = await self._http.send(request, stream=True)
            except httpx.HTTPError as err:
                raise transport_error(err, prepared.url) from err
            try:
                body = await aread_capped(response, self.max_response_bytes)
            except httpx.HTTPError as err:
                raise transport_error(err, prepared.url, reading=True) from err
            finally:
                await response.aclose()
            return self._finish(
                prepared,
                response,
                body,
                documents,
                first_index=first_index,
                endpoint=endpoint,
                ext=ext,
            )
        except RerankerError as err:
            scrubbed(err, prepared.secrets)  # D-SECRET-EVERY-COPY: every copy, the chain too
            raise

    async def aclose(self) -> None:
        """Close the pooled connections (those of an earlier event loop went with it)."""
        if self._loop.moved():
            self._http = self._new_http()
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
