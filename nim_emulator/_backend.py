"""What a NIM answers: routing, authentication, validation, token limits, scoring, replay.

Not a port of a Go file (moto keeps this in ``models.py``/``responses.py``).
Everything here is I/O-free: :func:`respond` turns one request into one
:class:`~nim_emulator._replies.Reply`; the app in ``_app`` applies
latency and faults around it and does the sending.

Order of checks on the hosted routes: the route itself (unknown paths are
``404 page not found`` before any key check), then the key (401/403), then end
of life (410), then the body (422), then the body's model (404), then the
passage count (422), then the token limit (400). On ``/v1/ranking``: the body
(400), the model (404), the passage count (400), the token limit (400 or 422,
by model).
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from nim_emulator import _replies as replies
from nim_emulator._captures import HOSTED_GENERIC_REQUEST, LENGTH_OVERFLOW_TEMPLATE
from nim_emulator._catalogue import (
    GENERIC_ROUTE_MODELS,
    HOSTED_PER_MODEL,
    MODELS,
    ModelInfo,
    self_hosted_info,
)
from nim_emulator._replies import Reply
from nim_emulator._scoring import rank_passages
from nim_emulator._state import EmulatorState, RequestRecord
from nim_emulator._tokens import cut_tokens, fit_pair
from nim_emulator._validation import (
    RerankRequest,
    hosted_detail,
    self_hosted_message,
    too_many_passages,
    validate_body,
)

__all__ = ["Incoming", "is_reranking_path", "respond"]

GENERIC_PATH: Final = "/v1/retrieval/nvidia/reranking"
SELF_HOSTED_PATH: Final = "/v1/ranking"
_PER_MODEL: Final = re.compile(r"/v1/retrieval/nvidia/([^/]+)/reranking")
_POLL: Final = re.compile(r"/v2/nvcf/pexec/status/([^/]+)")
# Framing and per-connection headers of a replayed response are the server's business.
_DROPPED_REPLAY_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)

RouteKind = Literal["generic", "per-model", "self-hosted", "models", "ready", "live", "poll"]


@dataclass(frozen=True)
class Incoming:
    """One request as the backend sees it; header names are lower-case."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), if sent."""
        return next((v for k, v in self.headers if k == name), None)


def is_reranking_path(path: str) -> bool:
    """Whether ``path`` is one of the three reranking routes (the default scope of faults)."""
    return path in (GENERIC_PATH, SELF_HOSTED_PATH) or _PER_MODEL.fullmatch(path) is not None


def respond(state: EmulatorState, request: Incoming, record: RequestRecord) -> Reply:
    """The answer a NIM (or, in replay mode, the cassette) gives to ``request``."""
    if state.cassette is not None:
        return _replay(state, request, record)
    route = _route(request.method, request.path)
    if route is None:
        return replies.not_found_page()
    kind, param = route
    if kind == "generic":
        return _hosted(state, request, record, None)
    if kind == "per-model":
        info = HOSTED_PER_MODEL.get(param)
        if info is None:
            return replies.not_found_page()
        return _hosted(state, request, record, info)
    if kind == "self-hosted":
        return _self_hosted(state, request)
    if kind == "models":
        return replies.models_list(state.config.self_hosted_model)
    if kind == "poll":
        return _poll(state, request, record, param)
    return replies.health("ready" if kind == "ready" else "live")


def _route(method: str, path: str) -> tuple[RouteKind, str] | None:
    if method == "POST":
        if path == GENERIC_PATH:
            return "generic", ""
        if path == SELF_HOSTED_PATH:
            return "self-hosted", ""
        if match := _PER_MODEL.fullmatch(path):
            return "per-model", match.group(1)
    elif method == "GET":
        fixed: dict[str, RouteKind] = {
            "/v1/models": "models",
            "/v1/health/ready": "ready",
            "/v1/health/live": "live",
        }
        if path in fixed:
            return fixed[path], ""
        if match := _POLL.fullmatch(path):
            return "poll", match.group(1)
    return None


def _check_key(state: EmulatorState, request: Incoming, record: RequestRecord) -> Reply | None:
    value = request.header("authorization")
    if value is None:
        state.update(record, auth="missing")
        return replies.missing_auth()
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        state.update(record, auth="malformed")
        return replies.malformed_bearer()
    expected = state.config.api_key
    if expected is None:
        state.update(record, auth="accepted")
        return None
    if hmac.compare_digest(token.encode(), expected.encode()):
        state.update(record, auth="valid")
        return None
    state.update(record, auth="invalid")
    return replies.forbidden()


def _now(state: EmulatorState) -> datetime:
    return state.config.now or datetime.now(UTC)


def _function_instance(model: str) -> str:
    # Invented: a stable NVCF-style function path per model, for the 422 "instance" field.
    function_id = uuid.uuid5(uuid.NAMESPACE_URL, f"reranker-nvidia-emulator:{model}")
    return f"/v2/nvcf/pexec/functions/{function_id}"


def _hosted(
    state: EmulatorState, request: Incoming, record: RequestRecord, route_model: ModelInfo | None
) -> Reply:
    denied = _check_key(state, request, record)
    if denied is not None:
        return denied
    eol = route_model.end_of_life if route_model is not None else None
    if route_model is not None and eol is not None and _now(state) >= eol:
        return replies.gone(route_model.id, eol)
    request_id = str(uuid.uuid4())
    instance_model = route_model.id if route_model else GENERIC_ROUTE_MODELS[0]
    parsed = validate_body(request.body)
    if isinstance(parsed, list):
        detail = hosted_detail(parsed)
        return replies.validation_error(detail, _function_instance(instance_model), request_id)
    available = (route_model.id,) if route_model else GENERIC_ROUTE_MODELS
    if parsed.model not in available:
        return replies.unknown_model(parsed.model, available)
    info = MODELS[parsed.model]
    issue = too_many_passages(len(parsed.passages), info.max_passages)
    if issue is not None:
        detail = hosted_detail([issue])
        return replies.validation_error(detail, _function_instance(instance_model), request_id)
    if route_model is None and parsed.model_dump(exclude_none=True) == HOSTED_GENERIC_REQUEST:
        return replies.captured_rankings(request_id)
    scored = _score(parsed, info)
    if isinstance(scored, _Overflow):
        return replies.hosted_token_overflow(scored.length, info.max_tokens)
    return replies.rankings(scored.payload, hosted=True, request_id=request_id)


def _self_hosted(state: EmulatorState, request: Incoming) -> Reply:
    served = state.config.self_hosted_model
    parsed = validate_body(request.body)
    if isinstance(parsed, list):
        return replies.self_hosted_error(400, self_hosted_message(parsed))
    if parsed.model != served:
        # Inferred: no capture shows what a NIM does with another model's id.
        return replies.self_hosted_error(
            404, f"Model '{parsed.model}' not found. This NIM serves '{served}'."
        )
    info = self_hosted_info(served)
    issue = too_many_passages(len(parsed.passages), info.max_passages)
    if issue is not None:
        return replies.self_hosted_error(400, self_hosted_message([issue]))
    scored = _score(parsed, info)
    if isinstance(scored, _Overflow):
        message = LENGTH_OVERFLOW_TEMPLATE.format(length=scored.length, limit=info.max_tokens)
        return replies.self_hosted_error(info.self_hosted_overflow_status, message)
    payload = scored.payload
    if state.config.include_usage:
        payload["usage"] = {"prompt_tokens": scored.tokens, "total_tokens": scored.tokens}
    return replies.rankings(payload, hosted=False, request_id=None)


@dataclass(frozen=True)
class _Overflow:
    index: int
    length: int


@dataclass(frozen=True)
class _Scored:
    payload: dict[str, Any]
    tokens: int


def _score(parsed: RerankRequest, info: ModelInfo) -> _Scored | _Overflow:
    cut = (parsed.truncate or info.default_truncate) == "END"
    query = parsed.query.text
    texts: list[str] = []
    tokens = 0
    for index, passage in enumerate(parsed.passages):
        fit = fit_pair(query, passage.text, info.max_tokens, cut=cut)
        if fit.used > info.max_tokens:
            return _Overflow(index, fit.length)
        texts.append(fit.passage)
        tokens += fit.used
    # A cut query is cut the same way in every pair: to the limit, when it alone is over it.
    scored_query = cut_tokens(query, info.max_tokens) if cut else query
    ranked = rank_passages(scored_query, texts)
    payload: dict[str, Any] = {"rankings": [{"index": i, "logit": x} for i, x in ranked]}
    return _Scored(payload, tokens)


def _poll(state: EmulatorState, request: Incoming, record: RequestRecord, request_id: str) -> Reply:
    denied = _check_key(state, request, record)
    if denied is not None:
        return denied
    result = state.poll(request_id)
    if result is None:
        return replies.poll_not_found(request_id)
    if result == "pending":
        return replies.accepted(request_id)
    return result


def _replay(state: EmulatorState, request: Incoming, record: RequestRecord) -> Reply:
    interaction = state.replay(request.method, request.path, request.body)
    if interaction is None:
        unused = state.unused_interactions()
        received = {
            "method": request.method,
            "path": request.path,
            "body": request.body.decode("utf-8", errors="replace"),
        }
        if not unused:
            reason = "every interaction of the cassette has been served"
            return replies.replay_mismatch(received, None, reason)
        first = unused[0]
        differs = [
            name
            for name, same in (
                ("method", first.method == request.method),
                ("path", first.path == request.path),
                ("body", first.matches(first.method, first.path, request.body)),
            )
            if not same
        ]
        reason = (
            f"{', '.join(differs)} differ(s) from the next unserved interaction "
            f"(#{first.index}) and no other unserved interaction matches"
        )
        return replies.replay_mismatch(received, first.summary(), reason)
    state.update(record, interaction=interaction.index)
    headers = [(k, v) for k, v in interaction.headers if k.lower() not in _DROPPED_REPLAY_HEADERS]
    reply = Reply(interaction.status, headers, interaction.response_body)
    reply.compact = b'", "' not in reply.body and b'": ' not in reply.body
    if reply.status == 200:
        try:
            payload = json.loads(reply.body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("rankings"), list):
            reply.payload = payload
    return reply
