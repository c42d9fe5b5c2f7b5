"""One call's opt-in extensions, wrapped around Go's flow: the one place that composes them.

Python only. ``clients/ranker.py`` builds a :class:`Plan` only when a call
sets an extension (a client keyword, a class setting, or a ``Passage``); with
Go's defaults this module is not even imported. A plan gives the call its
chunk size and workers (D-EXT-LIMITS) and, for each chunk, a flow:

- ``endpoint`` (D-EXT-ENDPOINT), ``truncate`` (D-EXT-TRUNCATE) and image
  passages (D-EXT-IMAGES) change the request and how the answer is read: a
  :class:`Route` stands in for Go's in ``perform_rank``;
- ``auto`` tries the routes in turn, once per base URL (``endpoint.auto``);
- ``waitReady`` (D-EXT-WAIT-READY) and ``requestsPerMinute`` (D-EXT-RPM) run
  before each request (``_flows.before_posts``);
- ``retries`` (D-EXT-RETRIES) runs the whole of ``perform_rank`` again;
- around each chunk's flow: ``usage`` counts what it sends (D-EXT-USAGE),
  ``cache`` answers it from a store (D-EXT-CACHE), ``trace`` makes its span
  (D-EXT-TRACE);
- around the call: :meth:`Plan.finished` applies ``score_transform`` and
  ``min_score`` (D-EXT-SCORES) and attaches the usage; :meth:`Plan.failed`
  fails open with ``on_error`` (D-EXT-FAIL-OPEN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._gostd import json as gojson
from .._gostd.context import HeaderSource
from ..clients._sending import Answer
from ..clients.ranker import (
    API_KEY_HEADER,
    BASE_URL_HEADER,
    RERANKING_PATH,
    GoRoute,
    RankFlow,
    Ranking,
    _Call,
    _Client,
    perform_rank,
    to_document_scores,
    without_trailing_slashes,
)
from ..config.class_settings import NAME, ClassSettings
from ..entities.moduletools.config import ClassConfig
from ..modulecomponents.ent.rank_result import DocumentScore, RankResult
from ..modulecomponents.header_values import get_value_from_context
from ..modulecomponents.settings.class_settings_property_helper import PropertyValuesHelper
from ..modulecomponents.validate_baseurl import validated_base_url_from_header
from . import endpoint as routes
from ._flows import Hook, Turns, before_posts
from .cache import cache_key, cached, open_cache
from .fail_open import fails_open, not_reranked
from .images import has_images, passage_text, wire_passages
from .rate_limit import RateLimiters
from .retries import RetryPolicy
from .scores import transformed
from .settings import SETTINGS, call_settings
from .usage import Tally, counted
from .wait_ready import before_first_post

if TYPE_CHECKING:
    from .tracing import CallSpan

__all__ = ["Plan", "Route", "WithDefaults", "checked_passages"]


class Plan:
    """The extensions in force for one call: the client's with the class settings over them."""

    def __init__(
        self, client: _Client, cfg: ClassConfig | None, documents: list[Any], all_text: bool
    ) -> None:
        own = {"max_documents": client.max_documents, "max_concurrency": client.max_concurrency}
        self.settings = call_settings({**own, **client.extensions}, cfg)  # ConfigError if bad
        self.max_documents: int = self.settings["max_documents"]
        self.max_concurrency: int = self.settings["max_concurrency"] or client.max_concurrency
        self.endpoint: str = self.settings["endpoint"]
        self.all_text = all_text
        self.client = client
        defaults = {
            row.key: self.settings[row.name]
            for row in SETTINGS
            if row.go_key and self.settings[row.name] is not None
        }
        self.cfg: ClassConfig | None = WithDefaults(cfg, defaults) if defaults else cfg
        """The call's class settings, the client's ``base_url``/``model`` under them."""
        if not all_text:
            checked_passages(documents, self.endpoint)  # D-EXT-IMAGES: before anything is sent
        self.documents = documents
        self.query = ""
        self.tally = Tally() if self.settings["usage"] else None
        spec = self.settings["cache"]
        self.cache = None if spec is None else open_cache(client, spec)
        self.trace: CallSpan | None = None
        if self.settings["trace"] != "off":  # D-EXT-TRACE: OpenTelemetry is imported only now
            from . import tracing  # noqa: PLC0415

            model = ClassSettings(self.cfg).model()
            cached = self.cache is not None
            self.trace = tracing.CallSpan(
                self.settings["trace"], model, len(documents), cached=cached
            )

    def call(self, query: str, headers: HeaderSource) -> _Call:
        """The call, checked, with this plan: its class settings, chunk size and workers."""
        self.query = query
        if self.trace is not None:
            settings = ClassSettings(self.cfg)
            base_url = get_value_from_context(headers, BASE_URL_HEADER) or settings.base_url()
            key = get_value_from_context(headers, API_KEY_HEADER)
            self.trace.called(query, base_url, (key, self.client.api_key.value))
        return _Call(
            query, self.documents, self.cfg, headers, self, self.max_documents,
            self.max_concurrency,
        )  # fmt: skip

    def flow(self, call: _Call, chunk: Sequence[Any], first_index: int) -> RankFlow:
        """One chunk's flow: Go's, wrapped in the extensions this call sets."""
        flow = self._route_flow(call, chunk, first_index)
        if self.tally is not None:
            flow = counted(flow, self.tally, len(chunk))
        if self.cache is not None:
            key = cache_key(call, chunk, self.endpoint, self.settings["truncate"])
            flow = cached(flow, self.cache, key, chunk, self.tally)
        if self.trace is not None:
            flow = self.trace.chunk(flow, chunk, first_index, self.endpoint)
        return flow

    def finished(self, result: RankResult) -> RankResult:
        """The call's result, with the call-level extensions applied."""
        if self.settings["score_transform"] != "raw":
            result = transformed(result, self.settings["score_transform"])
        result.min_score = self.settings["min_score"]
        if self.tally is not None:
            result.usage = self.tally.usage()
        if self.trace is not None:
            self.trace.finished(result)
        return result

    def failed(self, err: BaseException) -> RankResult:
        """Raises ``err``; with ``on_error="input_order"``, a reranker error is a result."""
        if self.settings["on_error"] == "raise" or not fails_open(err):
            if self.trace is not None:
                self.trace.failed(err)
            raise err
        assert isinstance(err, Exception)
        if self.trace is not None:
            self.trace.failed(err, failed_open=True)
        usage = None if self.tally is None else self.tally.usage()
        return not_reranked(self.query, self.documents, err, usage)

    def _route_flow(self, call: _Call, chunk: Sequence[Any], first_index: int) -> RankFlow:
        if self.endpoint != routes.AUTO:
            return self._on(self.endpoint, call, chunk, first_index)
        base_url = base_url_of(self.client, ClassSettings(call.cfg).base_url(), call.headers)
        turns = _state(self.client, "auto", Turns)
        model = ClassSettings(call.cfg).model()
        has_key = bool(
            get_value_from_context(call.headers, API_KEY_HEADER) or self.client.api_key.value
        )
        images = has_images(chunk)

        def on(endpoint: str) -> RankFlow:
            return self._on(endpoint, call, chunk, first_index)

        def probe() -> RankFlow:
            return routes.probe(
                turns, base_url, model, lambda e: routes.skip_reason(e, has_key, images), on
            )

        return routes.auto(turns, base_url, probe, on)

    def _on(self, endpoint: str, call: _Call, chunk: Sequence[Any], first_index: int) -> RankFlow:
        """One chunk on one route, with the hooks and the retries this call sets."""
        c = self.client
        route = Route(endpoint, self.settings["truncate"], self.endpoint, self.all_text)
        hooks: list[Hook] = []
        if self.settings["wait_ready"] is not None:
            turns = _state(c, "wait_ready", Turns)
            seconds = self.settings["wait_ready"]
            hooks.append(before_first_post(turns, seconds, lambda: route.base_url))
        if self.settings["requests_per_minute"] is not None:
            limiters = _state(c, "requests_per_minute", RateLimiters)
            hooks.append(limiters.get(self.settings["requests_per_minute"]).before_each_post)

        def attempt() -> RankFlow:
            flow = perform_rank(
                c, call.query, chunk, call.cfg, call.headers, first_index=first_index, route=route
            )
            return before_posts(flow, hooks) if hooks else flow

        if self.settings["retries"] == 0:
            return attempt()
        return RetryPolicy(self.settings["retries"]).flow(attempt, timeout=c.timeout)


class Route(GoRoute):
    """Go's route with the call's extensions: another endpoint, ``truncate``, image passages."""

    def __init__(self, endpoint: str, truncate: str | None, setting: str, all_text: bool) -> None:
        self.endpoint = endpoint
        self.truncate = truncate
        self.all_text = all_text
        # With an endpoint or truncate set, an error's hint ends its message (D-EXT-ENDPOINT).
        self.hinted = setting != routes.RETRIEVAL or truncate is not None
        self.base_url = ""

    def body(self, model: str, query: str, documents: Sequence[Any], first_index: int) -> bytes:
        if self.endpoint == routes.RETRIEVAL and self.truncate is None and self.all_text:
            return super().body(model, query, documents, first_index)
        passages = wire_passages(documents, first_index)
        if self.endpoint == routes.RERANK:
            routes.refuse_images(passages, first_index)
        return gojson.marshal(
            routes.request_body(self.endpoint, model, query, passages, self.truncate)
        )

    def url(self, c: _Client, headers: HeaderSource, settings: ClassSettings) -> str:
        if self.endpoint == routes.RETRIEVAL:
            url = super().url(c, headers, settings)
            self.base_url = url.removesuffix(RERANKING_PATH)
            return url
        self.base_url = base_url_of(c, settings.base_url(), headers)
        return self.base_url + routes.route_path(self.endpoint, settings.model())

    def api_key(self, c: _Client, headers: HeaderSource) -> str:
        if routes.needs_key(self.endpoint):
            return super().api_key(c, headers)
        # D-EXT-ENDPOINT: a stock self-hosted NIM needs no key, so none is demanded
        key = get_value_from_context(headers, API_KEY_HEADER) or c.api_key.value
        return self.checked_key(key, headers, c.api_key)

    def document_scores(self, answer: Answer, documents: Sequence[Any]) -> list[DocumentScore]:
        # A score reports the passage's text; the call's documents were checked for it once.
        shown = documents if self.all_text else [passage_text(d) for d in documents]
        if self.endpoint != routes.RERANK:
            return super().document_scores(answer, shown)
        results = routes.parse_rerank_response(answer.status, answer.body, len(documents))
        rankings = [
            Ranking.model_construct(index=r.index, logit=r.relevance_score) for r in results
        ]
        return to_document_scores(shown, rankings)


class WithDefaults:
    """A call's :class:`ClassConfig`, with the client's ``base_url``/``model`` where it sets none.

    D-EXT-CLIENT-DEFAULTS: what Go's ``ClassSettings`` reads for this module is
    the call's settings over the client's defaults (a JSON ``null`` is a setting
    that is not there); the rest of the config is the call's.
    """

    __slots__ = ("_cfg", "_settings")

    def __init__(self, cfg: ClassConfig | None, defaults: Mapping[str, str]) -> None:
        read = _HELPER.get_settings(cfg) if cfg is not None else {}
        given = (
            {k: v for k, v in read.items() if v is not None} if isinstance(read, Mapping) else {}
        )
        self._cfg = cfg
        self._settings: dict[str, Any] = {**defaults, **given}

    def class_(self) -> Mapping[str, Any]:
        return self._settings

    def class_by_module_name(self, module_name: str) -> Mapping[str, Any]:
        if module_name == NAME:
            return self._settings
        return {} if self._cfg is None else self._cfg.class_by_module_name(module_name)

    def target_vector(self) -> str:
        return "" if self._cfg is None else self._cfg.target_vector()

    def tenant(self) -> str:
        return "" if self._cfg is None else self._cfg.tenant()

    def properties_data_types(self) -> Mapping[str, str]:
        return {} if self._cfg is None else self._cfg.properties_data_types()

    def config(self) -> Any:
        return None if self._cfg is None else self._cfg.config()

    def property(self, prop_name: str) -> Mapping[str, Any]:
        return {} if self._cfg is None else self._cfg.property(prop_name)


_HELPER = PropertyValuesHelper(NAME)


def base_url_of(c: _Client, base_url: str, headers: HeaderSource) -> str:
    """The base URL a chunk goes to (header over class), validated as Go validates it."""
    passed = validated_base_url_from_header(headers, BASE_URL_HEADER, base_url, resolver=c.resolver)
    return without_trailing_slashes(passed)


def checked_passages(documents: Sequence[Any], endpoint: str) -> None:
    """D-EXT-IMAGES: every passage checked by NIM 2.4's rules before any chunk is sent."""
    passages = wire_passages(documents)
    if endpoint == routes.RERANK:
        routes.refuse_images(passages, 0)


def _state(client: _Client, name: str, make: type[Any]) -> Any:
    """What an extension keeps for ``client``'s life, made on first use."""
    state = client.extension_state.get(name)
    if state is None:
        state = client.extension_state.setdefault(name, make())
    return state
