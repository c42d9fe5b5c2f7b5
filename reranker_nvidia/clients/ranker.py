"""The NVIDIA reranking client.

Port of modules/reranker-nvidia/clients/ranker.go. Documents are cut into
chunks of ``max_documents`` (512), at most ``max_concurrency`` chunks (the
number of CPUs) are in flight at once, and the scores come back in the order
the documents were given. Each chunk is one ``POST
{baseURL}/v1/retrieval/nvidia/reranking``.

The functions above the two client classes are the I/O-free core that
:class:`Client` and :class:`AsyncClient` share: building the request,
cutting chunks, placing scores by index and mapping errors. The clients only
differ in how they send.

Deliberate differences from Go are marked ``D-…`` and listed, with the
contract case that pins each, in docs/divergences.md.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated, Any, Self

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from reranker_nvidia._gostd import json as gojson
from reranker_nvidia._gostd import url as gourl
from reranker_nvidia._gostd.context import HeaderSource
from reranker_nvidia.clients.ranker_meta import meta_info
from reranker_nvidia.config.class_settings import ClassSettings
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.errors import (
    ConfigError,
    DeadlineExceededError,
    DialRefusedError,
    ErrorResponseParseError,
    InvalidRankingsError,
    MissingAPIKeyError,
    RedirectError,
    RequestBuildError,
    RerankerError,
    ResponseParseError,
    TransportError,
    UpstreamError,
)
from reranker_nvidia.modulecomponents import _http_errors as gonet
from reranker_nvidia.modulecomponents.base_client import (
    DialRefused,
    new_async_base_http_client,
    new_base_http_client,
)
from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult
from reranker_nvidia.modulecomponents.header_values import get_value_from_context
from reranker_nvidia.modulecomponents.validate_baseurl import (
    Resolver,
    validated_base_url_from_header,
)
from reranker_nvidia.usecases.config.environment import DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT

__all__ = [
    "MAX_DOCUMENTS",
    "AsyncClient",
    "Client",
    "ErrorDetail",
    "PreparedRequest",
    "RankRequest",
    "RankResponse",
    "Ranking",
    "ResponseError402",
    "ResponseError422",
    "Text",
    "chunk_documents",
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

ProgressCallback = Callable[[int, int], None]
"""``(documents ranked so far, documents in all)``, called after each chunk."""


def num_cpu() -> int:
    """Go's ``runtime.NumCPU()``: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------
# The I/O-free core
# --------------------------------------------------------------------------


def chunk_documents(documents: Sequence[str], chunk_size: int) -> list[list[str]]:
    """Consecutive slices of at most ``chunk_size`` documents; none for no documents."""
    return [list(documents[i : i + chunk_size]) for i in range(0, len(documents), chunk_size)]


def get_rank_request(model: str, query: str, documents: Sequence[str]) -> dict[str, Any]:
    """The request body as JSON-ready data. ``truncate`` is never set, so never sent."""
    return {
        "model": model,
        "query": {"text": query},
        "passages": [{"text": document} for document in documents],
    }


def get_nvidia_url(
    headers: HeaderSource, base_url: str, *, resolver: Resolver | None = None
) -> str:
    """``{base URL}/v1/retrieval/nvidia/reranking``; ``X-Nvidia-Baseurl`` overrides the class.

    The header's value is validated (SSRF) when ``MODULES_VALIDATE_BASE_URL``
    is on. Trailing slashes of the base URL are dropped rather than doubled
    into ``//v1`` (D-BASEURL-SLASH).
    """
    passed = validated_base_url_from_header(headers, BASE_URL_HEADER, base_url, resolver=resolver)
    return _without_trailing_slashes(passed) + RERANKING_PATH


def _without_trailing_slashes(base_url: str) -> str:
    """``base_url`` without the slashes that end its path (never the ``//`` of the scheme)."""
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


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One chunk's request, ready to send. ``repr`` hides the ``Authorization`` value."""

    url: str
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:
        shown = {k: ("Bearer ***" if k == "Authorization" else v) for k, v in self.headers.items()}
        return (
            f"PreparedRequest(url={self.url!r}, headers={shown!r}, body=<{len(self.body)} bytes>)"
        )


def prepare_request(
    query: str,
    documents: Sequence[str],
    cfg: ClassConfig | None,
    headers: HeaderSource,
    api_key: str,
    *,
    resolver: Resolver | None = None,
) -> PreparedRequest:
    """The first half of Go's ``performRank``, in Go's order of checks.

    Raises :class:`BaseURLError` (header base URL), :class:`RequestBuildError`
    (an unparsable URL), :class:`MissingAPIKeyError`, then
    :class:`TransportError` for a URL no HTTP client can send to.
    """
    settings = ClassSettings(cfg)
    body = gojson.marshal(get_rank_request(settings.model(), query, documents))
    url = get_nvidia_url(headers, settings.base_url(), resolver=resolver)
    try:
        parsed = gourl.parse(url)
    except gourl.URLError as err:
        raise RequestBuildError(f"create POST request: {err}") from None
    key = get_api_key(headers, api_key)
    if parsed.scheme not in ("http", "https"):
        raise TransportError(
            f"send POST request: Post {gourl.go_quote(gourl.strip_password(url))}: "
            f"unsupported protocol scheme {gourl.go_quote(parsed.scheme)}"
        )
    if parsed.hostname() == "":
        raise TransportError(
            f"send POST request: Post {gourl.go_quote(gourl.strip_password(url))}: "
            "http: no Host in request URL"
        )
    return PreparedRequest(
        url=url,
        headers={
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
        body=body,
    )


def _validation_reason(err: ValidationError, body: bytes) -> str:
    first = err.errors()[0]
    if first["type"] == "json_invalid":
        text = body.decode("utf-8", "replace")
        return gojson.syntax_error(text)
    location = ".".join(str(part) for part in first["loc"]) or "response"
    return f"{location}: {first['msg']}"


def parse_rank_response(status: int, body: bytes) -> list[Ranking]:
    """The rankings of a 200 body, or :class:`ResponseParseError` with Go's prefix.

    Invalid UTF-8 is read as U+FFFD, as Go's decoder does, rather than refused.
    """
    try:
        parsed = RankResponse.model_validate_json(body)
    except ValidationError as err:
        if err.errors()[0]["type"] != "json_invalid":
            raise ResponseParseError(
                f"failed to parse reranker response (status {status}): "
                f"{_validation_reason(err, body)}",
                status=status,
            ) from None
        body = body.decode("utf-8", "replace").encode("utf-8")
    try:
        parsed = RankResponse.model_validate_json(body)
    except ValidationError as err:
        reason = _validation_reason(err, body)
        raise ResponseParseError(
            f"failed to parse reranker response (status {status}): {reason}", status=status
        ) from None
    return parsed.rankings or []


def to_document_scores(
    documents: Sequence[str], rankings: Iterable[Ranking]
) -> list[DocumentScore]:
    """One score per document, placed by ``index``; the server's order does not matter.

    Go trusts the indices and panics when one is out of range or missing. Here
    every passage must be ranked exactly once, else :class:`InvalidRankingsError`
    (D-RANKINGS-INDEX).
    """
    count = len(documents)
    scores: list[float | None] = [None] * count
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


def to_rank_result(query: str, results: Iterable[Sequence[DocumentScore]]) -> RankResult:
    """The chunks' scores joined back in chunk order."""
    document_scores: list[DocumentScore] = []
    for chunk in results:
        document_scores.extend(chunk)
    return RankResult(query=query, document_scores=document_scores)


_SPACE = re.compile(r"\s+")
_EXCERPT_LIMIT = 200
_EXCERPT_SCAN = 64 * 1024
"""Bytes of a body looked at for the excerpt: enough for any error page's words."""


def _html_words(text: str) -> str:
    """The words of an HTML page, without tags, scripts and styles, in one pass."""
    lower = text.lower()
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        start = text.find("<", i)
        if start == -1:
            out.append(text[i:])
            break
        out.append(text[i:start])
        end = text.find(">", start)
        if end == -1:  # an unterminated tag: the rest is markup
            break
        out.append(" ")
        name = lower[start + 1 : end].split(None, 1)[0] if end > start + 1 else ""
        i = end + 1
        if name in ("script", "style"):
            close = lower.find(f"</{name}", i)
            if close == -1:
                break
            after = text.find(">", close)
            i = n if after == -1 else after + 1
    return html.unescape("".join(out))


def _excerpt(text: str, content_type: str) -> str:
    """A short, one-line text of a non-JSON body; HTML is reduced to its words."""
    text = text[:_EXCERPT_SCAN]
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        text = _html_words(text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > _EXCERPT_LIMIT:
        text = text[: _EXCERPT_LIMIT - 1].rstrip() + "…"
    return text


def _detail_text(document: Mapping[str, Any]) -> str | None:
    """The error text of a JSON error body, from any shape NVIDIA or FastAPI writes."""
    detail = document.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and all(isinstance(item, Mapping) for item in detail):
        return " ".join(str(item.get("msg") or "") for item in detail)
    message = document.get("message")
    if isinstance(message, str):
        return message
    return None


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def get_response_error(
    status_code: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    secrets: Sequence[str] = (),
) -> RerankerError:
    """The error for a non-200 answer.

    Go's rules, word for word where Go gives an answer:

    - 402 and 403: ``{"detail": string}`` → ``connection to NVIDIA API failed
      with status: N error: <detail>``; a body that does not parse →
      ``failed to parse reranker error response (status N): …``;
    - 422: ``{"detail": [{"msg": …}]}`` → the messages joined by spaces;
    - any other status: ``connection to NVIDIA API failed with status: N``.

    Where Go fails or says little, more is said (docs/divergences.md): every
    ``msg`` of a 422 list, not the first one repeated (D-422-JOIN); a string
    ``detail`` for any status (D-DETAIL-STRING); a self-hosted NIM's
    ``message`` (D-DETAIL-MESSAGE); the text of a non-JSON body (D-TEXT-BODY);
    where a redirect pointed (D-REDIRECT); an unfinished NVCF request
    (D-NVCF-202). Any ``secrets`` (the API key) are masked.
    """
    header_map = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = header_map.get("content-type", "")
    prefix = f"connection to NVIDIA API failed with status: {status_code}"
    # Masked first, so no later cut can leave part of a key behind.
    text = _redact(body.decode("utf-8", "replace"), secrets)
    document: Any = None
    syntax: str | None = None
    try:
        document = gojson.loads(text)
    except (ValueError, RecursionError) as err:
        syntax = gojson.syntax_error(text, err if isinstance(err, json.JSONDecodeError) else None)

    def upstream(detail: str | None) -> UpstreamError:
        if detail is None:
            return UpstreamError(prefix, status=status_code, body=body, content_type=content_type)
        detail = _redact(detail, secrets)
        return UpstreamError(
            f"{prefix} error: {detail}",
            status=status_code,
            detail=detail,
            body=body,
            content_type=content_type,
        )

    def unparsable(reason: str) -> ErrorResponseParseError:
        return ErrorResponseParseError(
            f"failed to parse reranker error response (status {status_code}): {reason}",
            status=status_code,
        )

    if status_code in (402, 403, 422):
        if syntax is not None:
            return unparsable(syntax)
        if document is None:
            return upstream("")
        if not isinstance(document, Mapping):
            return unparsable(f"json: cannot unmarshal {_json_kind(document)} into an error object")
        detail = document.get("detail")
        if detail is None:
            message = document.get("message")
            return upstream(message if isinstance(message, str) else "")
        if isinstance(detail, str):
            return upstream(detail)
        if isinstance(detail, list):
            if not all(isinstance(item, Mapping) for item in detail):
                return unparsable("json: detail must be a list of objects")
            messages = [item.get("msg") for item in detail]
            if not all(isinstance(msg, str | None) for msg in messages):
                return unparsable("json: detail[].msg must be a string")
            return upstream(" ".join(msg or "" for msg in messages))
        return unparsable(f"json: cannot unmarshal {_json_kind(detail)} into detail")

    if 300 <= status_code < 400:
        location = header_map.get("location")
        location = _redact(location, secrets) if location is not None else None
        where = f"redirect to {location} not followed" if location else "redirect not followed"
        return RedirectError(f"{prefix} error: {where}", status=status_code, location=location)

    detail_text: str | None = None
    if isinstance(document, Mapping):
        detail_text = _detail_text(document)
    elif syntax is not None:
        detail_text = _excerpt(text, content_type) or None
    if status_code == 202 and detail_text is None and header_map.get("nvcf-reqid"):
        detail_text = (
            f"NVCF accepted the request (nvcf-reqid {header_map['nvcf-reqid']}) "
            "but did not finish it; polling is not supported"
        )
    return upstream(detail_text)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def finish_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    documents: Sequence[str],
    *,
    secrets: Sequence[str] = (),
) -> list[DocumentScore]:
    """The second half of Go's ``performRank``: the answer turned into scores or an error."""
    if status_code != 200:
        raise get_response_error(status_code, body, headers, secrets=secrets)
    return to_document_scores(documents, parse_rank_response(status_code, body))


def transport_error(err: BaseException, url: str, *, reading: bool = False) -> TransportError:
    """Go's ``send POST request: Post "<url>": …`` or ``read response body: …``."""
    reason = gonet.describe(err, url)
    if reading:
        message = f"read response body: {reason}"
    else:
        message = f"send POST request: Post {gourl.go_quote(gourl.strip_password(url))}: {reason}"
    if reason == "context deadline exceeded" or reason.endswith(": context deadline exceeded"):
        return DeadlineExceededError(message)
    if any(isinstance(link, DialRefused) for link in gonet.chain(err)):
        return DialRefusedError(message)
    return TransportError(message)


# --------------------------------------------------------------------------
# The clients
# --------------------------------------------------------------------------


class _APIKey:
    """The key read at start; its ``repr`` never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'" if self.value else "''"


class _ClientBase:
    def __init__(
        self,
        api_key: str | None,
        timeout: float,
        max_documents: int,
        max_concurrency: int | None,
        resolver: Resolver | None,
    ) -> None:
        if max_documents < 1:
            raise ConfigError(f"max_documents must be at least 1, not {max_documents}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self._api_key = _APIKey(os.environ.get("NVIDIA_APIKEY", "") if api_key is None else api_key)
        self.timeout = timeout
        self.max_documents = max_documents
        self.max_concurrency = max_concurrency or num_cpu()
        self._resolver = resolver

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_key={self._api_key!r}, timeout={self.timeout}, "
            f"max_documents={self.max_documents}, max_concurrency={self.max_concurrency})"
        )

    def meta_info(self) -> dict[str, Any]:
        """``{"name": "Reranker - NVIDIA", "documentationHref": …}``."""
        return meta_info()

    def _prepare(
        self, query: str, documents: Sequence[str], cfg: ClassConfig | None, headers: HeaderSource
    ) -> PreparedRequest:
        return prepare_request(
            query, documents, cfg, headers, self._api_key.value, resolver=self._resolver
        )

    def _secrets(self, prepared: PreparedRequest) -> tuple[str, ...]:
        return (prepared.headers["Authorization"].removeprefix("Bearer "),)


def _build_request(
    http: httpx.Client | httpx.AsyncClient, prepared: PreparedRequest
) -> httpx.Request:
    """The httpx request; a URL httpx refuses is Go's ``create POST request: …``."""
    try:
        return http.build_request(
            "POST", prepared.url, headers=prepared.headers, content=prepared.body
        )
    except (httpx.InvalidURL, ValueError) as err:
        raise RequestBuildError(
            f"create POST request: parse {gourl.go_quote(prepared.url)}: {err}"
        ) from None


class Client(_ClientBase):
    """The synchronous client (Go's ``client``).

    ``api_key`` defaults to ``NVIDIA_APIKEY``, read once, here. ``timeout`` is
    in seconds and covers each request's attempts and body; zero or less means
    none. ``transport`` swaps the network layer (``httpx.MockTransport``, …);
    ``resolver`` swaps DNS for SSRF checks and the dial guard.
    """

    def __init__(
        self,
        api_key: str | None = None,
        timeout: float = DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT,
        *,
        max_documents: int = MAX_DOCUMENTS,
        max_concurrency: int | None = None,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__(api_key, timeout, max_documents, max_concurrency, resolver)
        self._http = new_base_http_client(timeout, transport=transport, resolver=resolver)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
        on_progress: ProgressCallback | None = None,
    ) -> RankResult:
        """Score every document against ``query``; scores come back in input order.

        ``headers`` are the request headers Weaviate would see
        (``X-Nvidia-Api-Key``, ``X-Nvidia-Baseurl``; any letter case). A chunk
        that fails fails the whole call, and chunks not yet sent are then not
        sent (D-CHUNK-STOP).
        """
        chunks = chunk_documents(documents, self.max_documents)
        total = len(documents)
        if not chunks:
            return RankResult(query=query, document_scores=[])
        results: list[list[DocumentScore]] = [[] for _ in chunks]
        progress = _Progress(total, on_progress)
        workers = min(self.max_concurrency, len(chunks))
        if workers == 1:
            for i, chunk in enumerate(chunks):
                results[i] = self._perform_rank(query, chunk, cfg, headers)
                progress.add(len(chunk))
            return to_rank_result(query, results)

        failed = threading.Event()

        def run(i: int) -> None:
            if failed.is_set():
                return
            try:
                results[i] = self._perform_rank(query, chunks[i], cfg, headers)
            except BaseException:
                failed.set()
                raise
            progress.add(len(chunks[i]))

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reranker-nvidia") as pool:
            futures = [pool.submit(run, i) for i in range(len(chunks))]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            first_error = next(
                (f.exception() for f in futures if f in done and f.exception()), None
            )
        if first_error is not None:
            raise first_error
        return to_rank_result(query, results)

    def _perform_rank(
        self, query: str, documents: Sequence[str], cfg: ClassConfig | None, headers: HeaderSource
    ) -> list[DocumentScore]:
        prepared = self._prepare(query, documents, cfg, headers)
        request = _build_request(self._http, prepared)
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as err:
            raise transport_error(err, prepared.url) from err
        try:
            body = response.read()
        except httpx.HTTPError as err:
            raise transport_error(err, prepared.url, reading=True) from err
        finally:
            response.close()
        return finish_response(
            response.status_code,
            response.headers,
            body,
            documents,
            secrets=self._secrets(prepared),
        )


class AsyncClient(_ClientBase):
    """The asynchronous client: :class:`Client`'s behaviour on anyio (asyncio or trio)."""

    def __init__(
        self,
        api_key: str | None = None,
        timeout: float = DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT,
        *,
        max_documents: int = MAX_DOCUMENTS,
        max_concurrency: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__(api_key, timeout, max_documents, max_concurrency, resolver)
        self._http = new_async_base_http_client(timeout, transport=transport, resolver=resolver)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def rank(
        self,
        query: str,
        documents: Sequence[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
        on_progress: ProgressCallback | None = None,
    ) -> RankResult:
        """The async twin of :meth:`Client.rank`."""
        chunks = chunk_documents(documents, self.max_documents)
        if not chunks:
            return RankResult(query=query, document_scores=[])
        results: list[list[DocumentScore]] = [[] for _ in chunks]
        progress = _Progress(len(documents), on_progress)
        errors: list[Exception] = []
        limiter = anyio.Semaphore(min(self.max_concurrency, len(chunks)))

        async def run(i: int, scope: anyio.CancelScope) -> None:
            async with limiter:
                if errors:
                    return
                try:
                    results[i] = await self._perform_rank(query, chunks[i], cfg, headers)
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
        self, query: str, documents: Sequence[str], cfg: ClassConfig | None, headers: HeaderSource
    ) -> list[DocumentScore]:
        prepared = self._prepare(query, documents, cfg, headers)
        request = _build_request(self._http, prepared)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as err:
            raise transport_error(err, prepared.url) from err
        try:
            body = await response.aread()
        except httpx.HTTPError as err:
            raise transport_error(err, prepared.url, reading=True) from err
        finally:
            await response.aclose()
        return finish_response(
            response.status_code,
            response.headers,
            body,
            documents,
            secrets=self._secrets(prepared),
        )


class _Progress:
    """Counts ranked documents and reports them, from any thread."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self._total = total
        self._done = 0
        self._callback = callback
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        if self._callback is None:
            return
        with self._lock:
            self._done += count
            done = self._done
        self._callback(done, self._total)


# --------------------------------------------------------------------------
# Wire shapes (Go's private structs at the bottom of ranker.go). The request
# is written by get_rank_request for speed; RankRequest documents it and
# generates its JSON Schema.
# --------------------------------------------------------------------------


class Text(BaseModel):
    """``{"text": …}``: the query, or one passage."""

    model_config = ConfigDict(extra="forbid")

    text: str


class RankRequest(BaseModel):
    """The body of ``POST /v1/retrieval/nvidia/reranking``."""

    model_config = ConfigDict(extra="forbid")

    model: str
    query: Text
    passages: list[Text]
    truncate: str | None = Field(default=None, description="Declared by Go, never sent.")


class Ranking(BaseModel):
    """One passage's score: its position in the request and the raw logit."""

    index: StrictInt
    logit: Annotated[StrictFloat, Field(allow_inf_nan=False)]


class RankResponse(BaseModel):
    """The 200 body. Extra members (``usage``) are ignored, as in Go."""

    rankings: list[Ranking] | None = None


class ResponseError402(BaseModel):
    """The 402/403 body Go expects: ``{"detail": "…"}``."""

    detail: str | None = None


class ErrorDetail(BaseModel):
    """One entry of a FastAPI-style 422 ``detail`` list."""

    msg: str | None = None


class ResponseError422(BaseModel):
    """The 422 body Go expects: ``{"detail": [{"msg": "…"}, …]}``."""

    detail: list[ErrorDetail] | None = None


class ProblemDetails(BaseModel):
    """NVIDIA's hosted error body (RFC 7807): ``detail`` is a string (D-DETAIL-STRING)."""

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    requestId: str | None = None  # noqa: N815 - the wire name


class NimError(BaseModel):
    """A self-hosted NIM's error body: ``{"object": "error", "message": …}`` (D-DETAIL-MESSAGE)."""

    object: str = "error"
    message: str
