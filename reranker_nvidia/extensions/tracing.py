"""OpenTelemetry spans for a call and each of its chunks: ``trace`` (D-EXT-TRACE).

Python only; Go traces nothing. This module is imported only by a call that
sets ``trace``, and it imports ``opentelemetry-api`` (the ``otel`` extra) only
then: without the package, such a call is a :class:`ConfigError` before
anything is sent. Spans go to whatever tracer provider the application set
up (the SDK and its exporters are the application's choice); with none, the
API's no-op provider drops them.

A call is one ``rerank {model}`` span (kind CLIENT) and each chunk one
``rerank chunk`` span, its child. The attributes follow the OpenTelemetry
GenAI conventions and the rerank operation proposed for them
(open-telemetry/semantic-conventions-genai#253): ``gen_ai.operation.name``
``rerank``, ``gen_ai.provider.name`` ``nvidia`` (the current name of what was
``gen_ai.system``), ``gen_ai.request.model``, ``server.address`` and
``server.port``, ``gen_ai.rerank.candidate.count``; a chunk adds what the
conventions have no name for under ``reranker_nvidia.*``: its first index,
passages, the requests it sent (retries, probes and readiness polls
included), the pauses before its retries, the route that answered, and
whether the cache answered it. ``gen_ai.rerank.top_n`` is never set: the
client returns a score for every document (``ranked(result, top_n)`` cuts
afterwards, on the caller's side).

Never the key, and no text of the query or the documents unless
``trace="content"``: then the query, each chunk's passage texts (never an
image) and the scores are added, with the key masked in every one of them.
An error's one line is the span's status description; an upstream answer's
body is never recorded.

No span is made current: a chunk's flow runs on a worker thread or task and
yields between requests, where a context variable would not follow it. Each
chunk span names the call span as its parent explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..clients._secrets import redact
from ..clients._sending import Answer, Post
from ..errors import ConfigError
from ..modulecomponents._retry_drivers import Pause
from ..modulecomponents.ent.rank_result import RankResult
from ._flows import observed
from .images import passage_text

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ..clients.ranker import RankFlow

__all__ = ["OTEL_MISSING", "PROVIDER", "TRACER_NAME", "CallSpan", "one_line"]

OTEL_MISSING = (
    "trace needs the OpenTelemetry API, which is not installed: pip install 'reranker-nvidia[otel]'"
)
"""The :class:`ConfigError` of a call that sets ``trace`` without ``opentelemetry-api``."""

TRACER_NAME = "reranker_nvidia"
PROVIDER = "nvidia"
"""``gen_ai.provider.name``: who serves the model (NVIDIA's API, or a NIM)."""


def _otel() -> Any:
    """``opentelemetry.trace``, or the :class:`ConfigError` that says which extra to install."""
    try:
        from opentelemetry import trace  # noqa: PLC0415 - only a call that sets trace pays
    except ImportError:
        raise ConfigError(OTEL_MISSING) from None
    return trace


class CallSpan:
    """One call's span, and the factory of its chunks' spans."""

    __slots__ = ("_content", "_context", "_model", "_otel", "_secrets", "_tracer", "cached", "span")

    def __init__(self, mode: str, model: str, documents: int, *, cached: bool = False) -> None:
        """Start the call's span; ``mode`` is ``on`` or ``content``; ``cached``: a cache is set."""
        otel = _otel()
        self._otel = otel
        self._content = mode == "content"
        self._model = model
        self._secrets: tuple[str, ...] = ()
        self.cached = cached
        self._tracer = otel.get_tracer(TRACER_NAME)
        self.span: Span = self._tracer.start_span(
            f"rerank {model}",
            kind=otel.SpanKind.CLIENT,
            attributes={
                **self._common(),
                "gen_ai.rerank.candidate.count": documents,
            },
        )
        self._context = otel.set_span_in_context(self.span)

    def _common(self) -> dict[str, Any]:
        return {
            "gen_ai.operation.name": "rerank",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": self._model,
        }

    def called(self, query: str, base_url: str, secrets: Sequence[str]) -> None:
        """The call's query and base URL are known; ``secrets`` are masked in any text shown."""
        self._secrets = tuple(secret for secret in secrets if secret)
        self.span.set_attributes(_server(base_url))
        if self._content:
            self.span.set_attribute("reranker_nvidia.query", self._shown(query))

    def _shown(self, text: str) -> str:
        return redact(text, self._secrets) if self._secrets else text

    def chunk(
        self, flow: RankFlow, chunk: Sequence[Any], first_index: int, endpoint: str
    ) -> RankFlow:
        """``flow`` unchanged, inside a ``rerank chunk`` span that sees its requests and pauses."""
        otel = self._otel
        span = self._tracer.start_span(
            "rerank chunk",
            context=self._context,
            kind=otel.SpanKind.CLIENT,
            attributes={
                **self._common(),
                "reranker_nvidia.endpoint": endpoint,
                "reranker_nvidia.chunk.first_index": first_index,
                "reranker_nvidia.chunk.passages": len(chunk),
            },
        )
        if self._content:
            texts = [self._shown(passage_text(d)) for d in chunk]
            span.set_attribute("reranker_nvidia.chunk.documents", texts)
        seen = _Seen()

        def watch(step: Post | Pause, outcome: Any) -> None:
            seen.step(step)
            seen.outcome(step, outcome, span, self._shown)

        try:
            scores = yield from observed(flow, watch)
        except BaseException as err:
            seen.close(span, cache=False)
            self._error(span, err)
            span.end()
            raise
        seen.close(span, cache=self.cached)
        span.set_status(otel.Status(otel.StatusCode.OK))
        span.end()
        return scores

    def finished(self, result: RankResult) -> None:
        """End the call's span: it succeeded, with what the result says."""
        otel = self._otel
        self.span.set_attributes(_result_attributes(result, content=self._content))
        self.span.set_status(otel.Status(otel.StatusCode.OK))
        self.span.end()

    def failed(self, err: BaseException, *, failed_open: bool = False) -> None:
        """End the call's span with ``err``'s one line; ``failed_open``: the call returned the
        documents in input order, not reranked (``on_error="input_order"``)."""
        if failed_open:
            self.span.set_attribute("reranker_nvidia.reranked", False)
        self._error(self.span, err)
        self.span.end()

    def _error(self, span: Span, err: BaseException) -> None:
        otel = self._otel
        span.set_attribute("error.type", type(err).__qualname__)
        span.set_status(otel.Status(otel.StatusCode.ERROR, self._shown(one_line(err))))


class _Seen:
    """What one chunk's flow did: its requests, their answers, the pauses before retries."""

    __slots__ = ("address", "after_failure", "delays", "requests", "route", "status")

    def __init__(self) -> None:
        self.requests = 0
        self.status: int | None = None
        self.route: str | None = None
        self.address: dict[str, Any] = {}
        self.delays: list[float] = []
        self.after_failure = False

    def step(self, step: Post | Pause) -> None:
        # The first pause after a failed request is the retry's backoff (a rate limit's
        # or a turn's wait comes after it, before the next request).
        if isinstance(step, Pause) and self.after_failure:
            self.delays.append(float(step.seconds))
            self.after_failure = False

    def outcome(self, step: Post | Pause, outcome: Any, span: Span, shown: Any) -> None:
        if not isinstance(step, Post):
            return
        self.requests += 1
        parts = urlsplit(step.url)
        self.route = shown(parts.path)
        self.address = _server(step.url)
        event: dict[str, Any] = {"http.request.method": step.method}
        if isinstance(outcome, Answer):
            self.status = outcome.status
            self.after_failure = outcome.status != 200
            event["http.response.status_code"] = outcome.status
        elif isinstance(outcome, BaseException):
            self.after_failure = True
            event["error.type"] = type(outcome).__qualname__
        span.add_event("request", event)

    def close(self, span: Span, *, cache: bool) -> None:
        attributes: dict[str, Any] = {
            "reranker_nvidia.chunk.requests": self.requests,
            **self.address,
        }
        if self.status is not None:
            attributes["http.response.status_code"] = self.status
        if self.route is not None:
            attributes["reranker_nvidia.chunk.route"] = self.route
        if self.delays:
            attributes["reranker_nvidia.chunk.retry_delays_s"] = self.delays
        if cache:  # a chunk scored without a request was answered by the cache (D-EXT-CACHE)
            attributes["reranker_nvidia.chunk.cache_hit"] = self.requests == 0
        span.set_attributes(attributes)


def _server(url: str) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of ``url`` (never its user or password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return {}
    if not parts.hostname:
        return {}
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    out: dict[str, Any] = {"server.address": parts.hostname}
    if port is not None or default is not None:
        out["server.port"] = port if port is not None else default
    return out


def _result_attributes(result: RankResult, *, content: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"reranker_nvidia.reranked": result.reranked}
    usage = result.usage
    if usage is not None:
        out["reranker_nvidia.requests"] = usage.requests
        if usage.prompt_tokens is not None:
            out["gen_ai.usage.input_tokens"] = usage.prompt_tokens
    if content and result.reranked:
        out["gen_ai.rerank.scores"] = [
            float(s.score) for s in result.document_scores if s.score is not None
        ]
    return out


def one_line(err: BaseException) -> str:
    """``err``'s message's first line, or its type's name when it has none (Ctrl-C)."""
    text = str(err).strip()
    if not text:
        return type(err).__qualname__
    return text.splitlines()[0]
