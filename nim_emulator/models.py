"""The emulator's state and the NIM's rules (moto's models.py): I/O-free, raising NVIDIA's errors.

**State.** One :class:`EmulatorState` lives at ``app.state.emulator``: the
request log, the armed faults, the pending 202 results and the replay cursor.
It is shared by the event loop that serves requests and by the test code that
reads it, possibly from another thread, so every method takes a lock and
readers get copies.

The request log never holds an API key: ``Authorization`` keeps only its
scheme (``Bearer <redacted>``), key-carrying headers (``x-nvidia-api-key``,
``x-api-key``, ``api-key``, ``cookie``, ``proxy-authorization``) become
``<redacted>``, and every other header value, the query string and the body
have the configured key and the request's own bearer token replaced by
``<redacted>`` (in bodies and query strings only for secrets of 8 or more
characters, so a test key like ``k`` does not blank out every ``k``). The
whole ``Authorization`` value is kept only as a SHA-256 digest
(``authorization_sha256``), so a test can check which key a client sent
without the log ever holding it.

**Rules.** Each check raises the :mod:`~nim_emulator.exceptions` error NVIDIA
answers with; the response layer renders it. Order of checks on the hosted
routes: the route itself (unknown paths are ``404 page not found`` before any
key check), then the key (401/403), then end of life (410), then the body
(422), then the body's model (404), then the passage count (422), then the
token limit (400). On ``/v1/ranking``: the body (400), the model (404), the
passage count (400), the token limit (400 or 422, by model).

**The body's schema** is NVIDIA's documented reranking request: ``model`` a
string of 1-128 characters; ``query`` an object ``{"text": str}``;
``passages`` a list of 1 or more ``{"text": str}``; every ``text`` at least 1
character; ``truncate`` ``"NONE"`` or ``"END"`` (or absent/null); no other
field anywhere. The passage maximum (512, or 1000 for the vision-language
model) depends on the model. Pydantic does the checking, so messages and
types are pydantic 2's own, as a FastAPI service produces them; the two
renderings (hosted 422, self-hosted 400) are the exceptions'.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nim_emulator._captures import HOSTED_GENERIC_REQUEST
from nim_emulator._cassette import Cassette, Interaction, load_cassette
from nim_emulator._catalogue import (
    GENERIC_ROUTE_MODELS,
    HOSTED_PER_MODEL,
    MODELS,
    ModelInfo,
    self_hosted_info,
)
from nim_emulator._config import EmulatorConfig
from nim_emulator._scoring import rank_passages
from nim_emulator._tokens import cut_tokens, fit_pair
from nim_emulator._wire import Incoming, Reply
from nim_emulator.exceptions import (
    ForbiddenError,
    HostedTokenOverflowError,
    HostedValidationError,
    Issue,
    MalformedBearerError,
    MissingAuthorizationError,
    ModelGoneError,
    NimError,
    PageNotFoundError,
    PollNotFoundError,
    ReplayMismatchError,
    SelfHostedModelNotFoundError,
    SelfHostedTokenOverflowError,
    SelfHostedValidationError,
    UnknownModelError,
)
from nim_emulator.faults import FaultSpec

__all__ = [
    "REDACTED",
    "ArmedFault",
    "EmulatorState",
    "Ranking",
    "RequestRecord",
    "RerankRequest",
    "authenticate",
    "check_end_of_life",
    "hosted_route_model",
    "rank_hosted",
    "rank_self_hosted",
    "replay",
    "stored_result",
]

# ---- state ----------------------------------------------------------------------------------

REDACTED = "<redacted>"
_KEY_HEADERS = frozenset({"x-nvidia-api-key", "x-api-key", "api-key", "cookie"})
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_MIN_SUBSTRING_SECRET = 8

AuthResult = Literal["missing", "malformed", "accepted", "valid", "invalid", "not-checked"]
Outcome = Literal["pending", "answered", "dropped", "dropped-mid-body", "client-disconnected"]


@dataclass
class RequestRecord:
    """One logged request (control routes are never logged).

    ``json`` is the parsed body when ``is_json`` (the body can be JSON
    ``null``); ``status`` is the status sent (None when nothing was sent);
    ``auth`` what the key check found; ``faults`` the specs of the faults that
    took effect; ``tcp_nodelay`` whether the server's socket had TCP_NODELAY
    (None in-process).
    """

    seq: int
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    json: Any = None
    is_json: bool = False
    status: int | None = None
    outcome: Outcome = "pending"
    auth: AuthResult = "not-checked"
    faults: list[str] = field(default_factory=list)
    tcp_nodelay: bool | None = None
    interaction: int | None = None
    authorization_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as ``GET /_emulator/requests`` returns it."""
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body,
            "json": copy.deepcopy(self.json),
            "is_json": self.is_json,
            "status": self.status,
            "outcome": self.outcome,
            "auth": self.auth,
            "faults": list(self.faults),
            "tcp_nodelay": self.tcp_nodelay,
            "interaction": self.interaction,
            "authorization_sha256": self.authorization_sha256,
        }


@dataclass
class ArmedFault:
    """A fault in force: its spec, how many more requests it applies to (None: all), hits."""

    id: int
    spec: FaultSpec
    remaining: int | None
    applied: int = 0
    passed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as ``GET /_emulator/faults`` returns it."""
        return {
            "id": self.id,
            "spec": self.spec.to_spec(),
            "remaining": self.remaining,
            "applied": self.applied,
            **self.spec.to_dict(),
        }


@dataclass
class _Pending:
    reply: Reply
    polls_left: int


class EmulatorState:
    """Request log, faults, pending results and replay cursor of one emulator app."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._startup_cassette: Cassette | None = None
        if isinstance(config.replay, Cassette):
            self._startup_cassette = config.replay
        elif config.replay is not None:
            self._startup_cassette = load_cassette(config.replay)
        self.cassette = self._startup_cassette
        self._lock = threading.Lock()
        self._random = random.Random(config.seed)  # noqa: S311  (jitter, not security)
        self._log: list[RequestRecord] = []
        self._faults: list[ArmedFault] = []
        self._next_fault_id = 1
        self._pending: dict[str, _Pending] = {}
        self._served: set[int] = set()
        self._arm_startup_faults()

    # ---- public API -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return [_copy_record(r) for r in self._log]

    @property
    def faults(self) -> list[ArmedFault]:
        """A copy of the armed faults, in the order they are tried."""
        with self._lock:
            return [replace(f) for f in self._faults]

    def add_fault(self, spec: FaultSpec | str) -> ArmedFault:
        """Arm a fault (a :class:`FaultSpec` or a spec string) after those already armed."""
        if isinstance(spec, str):
            spec = FaultSpec.parse(spec)
        with self._lock:
            armed = ArmedFault(self._next_fault_id, spec, spec.count)
            self._next_fault_id += 1
            self._faults.append(armed)
            return replace(armed)

    def clear_faults(self) -> None:
        """Disarm every fault, the start-up ones included."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Back to the start-up state: empty log, start-up faults re-armed, cassette rewound.

        A cassette loaded with :meth:`use_cassette` gives way to the start-up one
        (``config.replay``, or none).
        """
        with self._lock:
            self._log.clear()
            self._faults.clear()
            self._pending.clear()
            self._served.clear()
            self.cassette = self._startup_cassette
        self._arm_startup_faults()

    def use_cassette(self, cassette: Cassette | None) -> None:
        """Replay ``cassette`` from its first interaction on; None goes back to emulating."""
        with self._lock:
            self.cassette = cassette
            self._served.clear()

    def unused_interactions(self) -> list[Interaction]:
        """The cassette's interactions not served yet, in cassette order."""
        with self._lock:
            if self.cassette is None:
                return []
            return [i for i in self.cassette.interactions if i.index not in self._served]

    # ---- used by the rules and the faults ----------------------------------------------------

    def log_request(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        tcp_nodelay: bool | None,
    ) -> RequestRecord:
        """Append a redacted record of a request; the returned record is the live one."""
        secrets = self._secrets(headers)
        shown: dict[str, str] = {}
        digest = next(
            (hashlib.sha256(v.encode()).hexdigest() for n, v in headers if n == "authorization"),
            None,
        )
        for name, value in headers:
            clean = _redact_header(name, value, secrets)
            shown[name] = f"{shown[name]}, {clean}" if name in shown else clean
        text = _redact_text(body.decode("utf-8", errors="replace"), secrets)
        try:
            parsed, is_json = json.loads(text), True
        except ValueError:
            parsed, is_json = None, False
        with self._lock:
            record = RequestRecord(
                seq=len(self._log) + 1,
                time=time.time(),
                method=method,
                path=path,
                query=_redact_text(query, secrets),
                headers=shown,
                body=text,
                json=parsed,
                is_json=is_json,
                tcp_nodelay=tcp_nodelay,
                authorization_sha256=digest,
            )
            self._log.append(record)
            return record

    def update(self, record: RequestRecord, **changes: Any) -> None:
        """Set fields of a live record (status, outcome, auth, …) under the lock."""
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)

    def take_fault(
        self, record: RequestRecord, kinds: tuple[str, ...], *, reranking_route: bool
    ) -> FaultSpec | None:
        """The first armed fault of one of ``kinds`` that matches the request; it is consumed."""
        with self._lock:
            for armed in self._faults:
                if armed.spec.kind not in kinds or armed.remaining == 0:
                    continue
                if not armed.spec.matches(record.path, reranking_route=reranking_route):
                    continue
                if armed.spec.after is not None and armed.passed < armed.spec.after:
                    armed.passed += 1
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                armed.applied += 1
                record.faults.append(armed.spec.to_spec())
                return armed.spec
            return None

    def uniform(self, high: float) -> float:
        """A random number in ``[0, high]`` (jitter)."""
        if high <= 0:
            return 0.0
        with self._lock:
            return self._random.uniform(0.0, high)

    def store_pending(self, request_id: str, reply: Reply, polls: int) -> None:
        """Keep a 202'd request's result for the polling route."""
        with self._lock:
            self._pending[request_id] = _Pending(reply, polls)

    def poll(self, request_id: str) -> Reply | Literal["pending"] | None:
        """``"pending"`` while polls remain, then the stored reply (once), else None."""
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None:
                return None
            if pending.polls_left > 0:
                pending.polls_left -= 1
                return "pending"
            del self._pending[request_id]
            return pending.reply

    def replay(self, method: str, path: str, body: bytes) -> Interaction | None:
        """The first unserved interaction matching the request, marked served; else None."""
        with self._lock:
            if self.cassette is None:
                return None
            for interaction in self.cassette.interactions:
                if interaction.index in self._served:
                    continue
                if interaction.matches(method, path, body):
                    self._served.add(interaction.index)
                    return interaction
            return None

    # ---- helpers --------------------------------------------------------------------------

    def _arm_startup_faults(self) -> None:
        for spec in self.config.faults:
            self.add_fault(spec)

    def _secrets(self, headers: list[tuple[str, str]]) -> set[str]:
        secrets = {self.config.api_key} if self.config.api_key else set()
        for name, value in headers:
            if name in _AUTH_HEADERS:
                token = value.partition(" ")[2].strip() or value.strip()
                if token:
                    secrets.add(token)
            elif name in _KEY_HEADERS and value:
                secrets.add(value)
        return secrets


def _redact_header(name: str, value: str, secrets: set[str]) -> str:
    if name in _AUTH_HEADERS:
        scheme, _, token = value.partition(" ")
        return f"{scheme} {REDACTED}" if token.strip() else REDACTED
    if name in _KEY_HEADERS or value in secrets:
        return REDACTED
    return _redact_text(value, secrets)


def _redact_text(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SUBSTRING_SECRET:
            text = text.replace(secret, REDACTED)
    return text


def _copy_record(record: RequestRecord) -> RequestRecord:
    return replace(
        record,
        headers=dict(record.headers),
        json=copy.deepcopy(record.json),
        faults=list(record.faults),
    )


# ---- the NIM's rules ------------------------------------------------------------------------


class TextObject(BaseModel):
    """``{"text": str}``, the shape of the query and of each passage."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)


class RerankRequest(BaseModel):
    """A valid reranking request body."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=128)
    query: TextObject
    passages: list[TextObject] = Field(min_length=1)
    truncate: Literal["NONE", "END"] | None = None


@dataclass(frozen=True)
class Ranking:
    """A request's scores: ``(index, logit)`` by logit descending, and the tokens scored.

    ``captured`` marks the one captured hosted request, answered with the
    captured bytes.
    """

    scores: list[tuple[int, float]]
    tokens: int
    captured: bool = False


def authenticate(state: EmulatorState, record: RequestRecord, authorization: str | None) -> None:
    """The hosted key check; records what it found. Raises 401 (missing, malformed) or 403."""
    if authorization is None:
        state.update(record, auth="missing")
        raise MissingAuthorizationError
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        state.update(record, auth="malformed")
        raise MalformedBearerError
    expected = state.config.api_key
    if expected is None:
        state.update(record, auth="accepted")
        return
    if hmac.compare_digest(token.encode(), expected.encode()):
        state.update(record, auth="valid")
        return
    state.update(record, auth="invalid")
    raise ForbiddenError


def hosted_route_model(model_path: str) -> ModelInfo:
    """The model of a hosted per-model route's path segment. Raises the 404 page."""
    info = HOSTED_PER_MODEL.get(model_path)
    if info is None:
        raise PageNotFoundError
    return info


def check_end_of_life(state: EmulatorState, info: ModelInfo) -> None:
    """Raises 410 once the model's end of life has come (``config.now``, else the clock)."""
    now = state.config.now or datetime.now(UTC)
    if info.end_of_life is not None and now >= info.end_of_life:
        raise ModelGoneError(info.id, info.end_of_life)


def rank_hosted(body: bytes, route_model: ModelInfo | None, request_id: str) -> Ranking:
    """A hosted route's ranking (``route_model`` None: the generic route). Raises 422, 404, 400."""
    instance = _function_instance(route_model.id if route_model else GENERIC_ROUTE_MODELS[0])

    def invalid(issues: list[Issue]) -> NimError:
        return HostedValidationError(issues, instance, request_id)

    parsed = _parse_body(body, invalid)
    available = (route_model.id,) if route_model else GENERIC_ROUTE_MODELS
    if parsed.model not in available:
        raise UnknownModelError(parsed.model, available)
    info = MODELS[parsed.model]
    _check_passage_count(parsed, info, invalid)
    if route_model is None and parsed.model_dump(exclude_none=True) == HOSTED_GENERIC_REQUEST:
        return Ranking([], 0, captured=True)
    return _score(parsed, info, HostedTokenOverflowError)


def rank_self_hosted(served: str, body: bytes) -> Ranking:
    """``POST /v1/ranking`` on a NIM serving ``served``. Raises 400, 404, and 400 or 422."""
    parsed = _parse_body(body, SelfHostedValidationError)
    if parsed.model != served:
        # Inferred: no capture shows what a NIM does with another model's id.
        raise SelfHostedModelNotFoundError(parsed.model, served)
    info = self_hosted_info(served)
    _check_passage_count(parsed, info, SelfHostedValidationError)

    def overflow(length: int, limit: int) -> NimError:
        return SelfHostedTokenOverflowError(info.self_hosted_overflow_status, length, limit)

    return _score(parsed, info, overflow)


def _parse_body(body: bytes, invalid: Callable[[list[Issue]], NimError]) -> RerankRequest:
    """The checked request body; raises ``invalid(issues)`` listing what is wrong with it."""
    if not body.strip():
        raise invalid([Issue((), "Field required", "missing")])
    try:
        data = json.loads(body)
    except ValueError as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        raise invalid([Issue((position,), "JSON decode error", "json_invalid")]) from None
    try:
        # from_attributes=True: validate as FastAPI does, so the messages are FastAPI's.
        return RerankRequest.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        issues = [
            Issue(tuple(error["loc"]), error["msg"], error["type"])
            for error in exc.errors(include_url=False)
        ]
        raise invalid(issues) from None


def _check_passage_count(
    parsed: RerankRequest, info: ModelInfo, invalid: Callable[[list[Issue]], NimError]
) -> None:
    """Raises ``invalid`` for more passages than the model takes, worded as pydantic words it."""
    count = len(parsed.passages)
    if count > info.max_passages:
        message = (
            f"List should have at most {info.max_passages} items after validation, not {count}"
        )
        raise invalid([Issue(("passages",), message, "too_long")])


def _score(
    parsed: RerankRequest, info: ModelInfo, overflow: Callable[[int, int], NimError]
) -> Ranking:
    """Token limits, truncation and the stand-in scores; raises ``overflow(length, limit)``."""
    cut = (parsed.truncate or info.default_truncate) == "END"
    query = parsed.query.text
    texts: list[str] = []
    tokens = 0
    for passage in parsed.passages:
        fit = fit_pair(query, passage.text, info.max_tokens, cut=cut)
        if fit.used > info.max_tokens:
            raise overflow(fit.length, info.max_tokens)
        texts.append(fit.passage)
        tokens += fit.used
    # A cut query is cut the same way in every pair: to the limit, when it alone is over it.
    scored_query = cut_tokens(query, info.max_tokens) if cut else query
    return Ranking(rank_passages(scored_query, texts), tokens)


def _function_instance(model: str) -> str:
    # Invented: a stable NVCF-style function path per model, for the 422 "instance" field.
    function_id = uuid.uuid5(uuid.NAMESPACE_URL, f"reranker-nvidia-emulator:{model}")
    return f"/v2/nvcf/pexec/functions/{function_id}"


def stored_result(state: EmulatorState, request_id: str) -> Reply | None:
    """A 202'd request's result, once; None while polls remain. Raises 404 for an unknown id."""
    result = state.poll(request_id)
    if result is None:
        raise PollNotFoundError(request_id)
    return None if result == "pending" else result


def replay(state: EmulatorState, request: Incoming, record: RequestRecord) -> Interaction:
    """The cassette's interaction for ``request``, now served. Raises 599 when none matches."""
    interaction = state.replay(request.method, request.path, request.body)
    if interaction is not None:
        state.update(record, interaction=interaction.index)
        return interaction
    unused = state.unused_interactions()
    received = {
        "method": request.method,
        "path": request.path,
        "body": request.body.decode("utf-8", errors="replace"),
    }
    if not unused:
        raise ReplayMismatchError(
            received, None, "every interaction of the cassette has been served"
        )
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
    raise ReplayMismatchError(received, first.summary(), reason)
