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
key check), then the key (401/403), then the account's access to a per-model
route (404, ``config.not_for_account``), then end of life (410), then the body
(422), then the body's model (404), then the passage count (422), then the
token limit (400). On ``/v1/ranking``: the body (400), the model (404), the
passage count (400), the token limit (400 or 422, by model or ``nim_version``).
On the gateway's ``/v1/rerank``: the key, the body (422), the model (404), end
of life (410), the passage count (422), the token limit.

**The body's schema** is NVIDIA's documented reranking request: ``model`` a
string of 1-128 characters; ``query`` an object ``{"text": str}``;
``passages`` a list of 1 or more ``{"text": str}``; every ``text`` at least 1
character; ``truncate`` ``"NONE"`` or ``"END"`` (or absent/null); no other
field anywhere. A multimodal model's passages may carry an ``image`` instead
of or besides ``text`` (NIM 2.4's rules: :func:`image_problem`). The passage
maximum and the default ``truncate`` depend on the model and the route: a
self-hosted NIM takes 512 passages, NVIDIA's hosted route for the
vision-language model 1000 (``ModelInfo.passages_on``). A body nested deeper
than 128 levels is malformed JSON (``_json``).
A plainly valid body is checked by hand, without a model object per passage;
any other goes through pydantic, so messages and types are pydantic 2's own,
as a FastAPI service produces them; the two renderings (hosted 422,
self-hosted 400) are the exceptions'.
"""

from __future__ import annotations

import base64
import binascii
import collections
import copy
import hashlib
import hmac
import json
import operator
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nim_emulator._captures import HOSTED_GENERIC_REQUEST
from nim_emulator._cassette import Cassette, Interaction, load_cassette
from nim_emulator._catalogue import (
    GENERIC_ROUTE_MODELS,
    HOSTED_PER_MODEL,
    MODELS,
    ModelInfo,
    Truncate,
    self_hosted_info,
)
from nim_emulator._config import EmulatorConfig
from nim_emulator._json import JsonTooDeepError, check_depth, loads, parse
from nim_emulator._scoring import rank_mixed, rank_passages, relevance_score
from nim_emulator._tokens import cut_tokens, fit_pair
from nim_emulator._wire import Incoming, Reply
from nim_emulator.exceptions import (
    ForbiddenError,
    FunctionNotFoundError,
    GatewayModelNotFoundError,
    GatewayTokenOverflowError,
    GatewayValidationError,
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
    "IMAGE_TYPES",
    "MAX_IMAGE_CHARS",
    "REDACTED",
    "ArmedFault",
    "EmulatorState",
    "GatewayRanking",
    "GatewayRequest",
    "MultimodalRerankRequest",
    "Parsed",
    "Ranking",
    "RequestRecord",
    "RerankRequest",
    "authenticate",
    "check_account",
    "check_end_of_life",
    "hosted_route_model",
    "image_problem",
    "lifecycle_headers",
    "rank_gateway",
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
    (None in-process); ``received_at`` when the request arrived, in
    ``time.monotonic()`` seconds of the emulator's process (``time`` is the
    wall clock, for people; ``received_at`` is for measuring gaps).
    ``body_size`` is the body's length in bytes; past ``config.log_body_limit``
    only the body's first bytes are kept (``body_truncated``, ``json`` not
    parsed) with the whole body's ``body_sha256``, so the log stays bounded.
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
    received_at: float = 0.0
    body_size: int = 0
    body_truncated: bool = False
    body_sha256: str | None = None
    # The body is parsed when the log is first read, not on the request's path.
    json_pending: bool = field(default=False, repr=False, compare=False)

    def parse_json(self) -> None:
        """Fill ``json`` and ``is_json`` from ``body`` if that is still to be done."""
        if self.json_pending:
            try:
                # Bounded: a body nested past _json.MAX_DEPTH is kept as text only, so reading
                # the log (a deep copy, JSON rendering) never recurses without limit.
                self.json, self.is_json = loads(self.body), True
            except ValueError:
                self.json, self.is_json = None, False
            self.json_pending = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as ``GET /_emulator/requests`` returns it."""
        self.parse_json()
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
            "received_at": self.received_at,
            "body_size": self.body_size,
            "body_truncated": self.body_truncated,
            "body_sha256": self.body_sha256,
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
        self._log: collections.deque[RequestRecord] = collections.deque(maxlen=config.max_logged)
        self._seq = 0
        self._windows: dict[int, collections.deque[float]] = {}
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
            for record in self._log:
                record.parse_json()
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
            self._windows.clear()

    def reset(self) -> None:
        """Back to the start-up state: empty log, start-up faults re-armed, cassette rewound.

        A cassette loaded with :meth:`use_cassette` gives way to the start-up one
        (``config.replay``, or none).
        """
        with self._lock:
            self._log.clear()
            self._seq = 0
            self._faults.clear()
            self._windows.clear()
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
        received_at: float | None = None,
    ) -> RequestRecord:
        """Append a redacted record of a request; the returned record is the live one.

        With ``config.log_requests`` off the record is not kept, and holds
        neither headers nor body (nothing is redacted or parsed).
        """
        arrived = time.monotonic() if received_at is None else received_at
        if not self.config.log_requests:
            with self._lock:
                self._seq += 1
                seq = self._seq
            return RequestRecord(
                seq=seq,
                time=time.time(),
                method=method,
                path=path,
                query="",
                headers={},
                body="",
                tcp_nodelay=tcp_nodelay,
                received_at=arrived,
            )
        secrets = self._secrets(headers)
        shown: dict[str, str] = {}
        digest = next(
            (hashlib.sha256(v.encode()).hexdigest() for n, v in headers if n == "authorization"),
            None,
        )
        for name, value in headers:
            clean = _redact_header(name, value, secrets)
            shown[name] = f"{shown[name]}, {clean}" if name in shown else clean
        limit = self.config.log_body_limit
        truncated = limit is not None and len(body) > limit
        if limit is not None and truncated:
            # A secret across the cut is redacted whole before the text is cut to the limit.
            margin = max((len(secret.encode()) for secret in secrets), default=0)
            text = _redact_text(body[: limit + margin].decode("utf-8", errors="replace"), secrets)
            text = text[:limit]
        else:
            text = _redact_text(body.decode("utf-8", errors="replace"), secrets)
        with self._lock:
            self._seq += 1
            record = RequestRecord(
                seq=self._seq,
                time=time.time(),
                method=method,
                path=path,
                query=_redact_text(query, secrets),
                headers=shown,
                body=text,
                tcp_nodelay=tcp_nodelay,
                authorization_sha256=digest,
                received_at=arrived,
                body_size=len(body),
                body_truncated=truncated,
                body_sha256=hashlib.sha256(body).hexdigest() if truncated else None,
                json_pending=not truncated,
            )
            self._log.append(record)
            return record

    def update(self, record: RequestRecord, **changes: Any) -> None:
        """Set fields of a live record (status, outcome, auth, …) under the lock."""
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)

    def armed(self, kinds: tuple[str, ...]) -> bool:
        """Whether a fault of one of ``kinds`` is armed and not used up (a cheap pre-check)."""
        with self._lock:
            return any(a.spec.kind in kinds and a.remaining != 0 for a in self._faults)

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

    def rate_limited(self, record: RequestRecord, *, reranking_route: bool) -> FaultSpec | None:
        """The first ``ratelimit`` fault whose window is full for this request; else None.

        Each matching fault with room left counts the request in its window
        (requests it refuses do not count); a full one answers 429 and is used.
        """
        with self._lock:
            now = time.monotonic()
            for armed in self._faults:
                spec = armed.spec
                if spec.kind != "ratelimit" or not spec.matches(
                    record.path, reranking_route=reranking_route
                ):
                    continue
                if spec.after is not None and armed.passed < spec.after:
                    armed.passed += 1
                    continue
                assert spec.rate_limit is not None and spec.window_s is not None
                window = self._windows.setdefault(armed.id, collections.deque())
                while window and window[0] <= now - spec.window_s:
                    window.popleft()
                if len(window) < spec.rate_limit or armed.remaining == 0:
                    window.append(now)
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                armed.applied += 1
                record.faults.append(spec.to_spec())
                return spec
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


class ImagePassage(BaseModel):
    """A passage of a multimodal model: text, image or both (NIM 2.4's rules, docs/emulator.md)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1)
    image: str | None = None

    @field_validator("image")
    @classmethod
    def _image_is_a_png_or_jpeg_data_url(cls, value: str | None) -> str | None:
        problem = None if value is None else image_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _has_text_or_image(self) -> ImagePassage:
        if self.text is None and self.image is None:
            raise ValueError(NO_CONTENT)
        return self


class MultimodalRerankRequest(BaseModel):
    """A valid reranking request body for a multimodal model."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=128)
    query: TextObject
    passages: list[ImagePassage] = Field(min_length=1)
    truncate: Literal["NONE", "END"] | None = None


# Inferred wordings: NVIDIA documents the rules, not the messages.
NO_CONTENT: Final = "a passage needs text, image or both"
_NOT_DATA_URL: Final = (
    "image must be a base64 data URL (data:image/png;base64,... or data:image/jpeg;base64,...)"
)
# The media types NIM 2.4 names ("data:image/jpeg;base64,... or data:image/png;base64,..."), each
# with the bytes its images start with. image/jpg is not one of them (nor a registered type).
IMAGE_TYPES: Final = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
MAX_IMAGE_CHARS: Final = 14_598_366
"""The longest image data URL taken, in characters: the one size NVIDIA publishes for a passage's
string (the hosted API reference of llama-nemotron-rerank-vl-1b-v2: "length between 1 and
14598366"); NIM's own pages state no image size, so the same bound applies on every route
(*chosen*, docs/emulator.md). The client (reranker_nvidia.extensions.images) has the same figure."""


def image_problem(image: str) -> str | None:
    """What NIM 2.4 refuses in an image passage, or None (docs/emulator.md, Image passages).

    A base64 ``data:`` URL of at most ``MAX_IMAGE_CHARS`` characters, labelled
    ``image/png`` or ``image/jpeg``, whose bytes are an image of the type its
    label names: NVIDIA documents PNG and JPEG bytes only; a label that
    disagrees with the bytes is refused too (*chosen*: the stricter reading).
    """
    if len(image) > MAX_IMAGE_CHARS:
        return f"image is {len(image)} characters long; at most {MAX_IMAGE_CHARS} are taken"
    if not image.startswith("data:"):
        return _NOT_DATA_URL
    header, comma, payload = image[5:].partition(",")
    if not comma:
        return _NOT_DATA_URL
    params = [part.strip().lower() for part in header.split(";")]
    if any(part.startswith("asset_id") for part in params[1:]):
        return "asset ID references are not supported; send the image as a base64 data URL"
    if params[-1] != "base64" or len(params) < 2:
        return "image must be base64-encoded (data:image/png;base64,...)"
    label = params[0]
    if label not in IMAGE_TYPES:
        return f"only PNG and JPEG images are supported, not {label or 'an untyped image'}"
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return "image is not valid base64"
    actual = next((kind for kind, magic in IMAGE_TYPES.items() if data.startswith(magic)), None)
    if actual is None:
        return "only PNG and JPEG images are supported: the image bytes are neither"
    if actual != label:
        return f"the data URL says {label} but the image bytes are {actual}"
    return None


@dataclass(frozen=True)
class Parsed:
    """A checked request body, as plain data: ``texts[i]`` is None for an image-only passage."""

    model: str
    query: str
    texts: list[str | None]
    images: list[str | None] | None
    truncate: str | None

    def is_captured_request(self) -> bool:
        """Whether this is the one captured hosted request (same model, query and passages)."""
        return (
            self.truncate is None
            and self.images is None
            and {
                "model": self.model,
                "query": {"text": self.query},
                "passages": [{"text": text} for text in self.texts],
            }
            == HOSTED_GENERIC_REQUEST
        )


@dataclass(frozen=True)
class Ranking:
    """A request's scores: ``(index, logit)`` by logit descending, and the tokens scored.

    ``captured`` marks the one captured hosted request, answered with the
    captured bytes; ``model`` is the model the body named.
    """

    scores: list[tuple[int, float]]
    tokens: int
    captured: bool = False
    model: str = ""


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
    """Raises 410 once the model's end of life has come (``config.now``, else the clock).

    The end of life is ``config.end_of_life[model]`` when set, else the catalogue's.
    """
    end_of_life = state.config.end_of_life.get(info.id, info.end_of_life)
    if end_of_life is None:
        return
    now = state.config.now or datetime.now(UTC)
    if now >= end_of_life:
        raise ModelGoneError(info.id, end_of_life)


def check_account(state: EmulatorState, info: ModelInfo) -> None:
    """Raises NVIDIA's captured 404 "Function ... Not found for account" for a model in
    ``config.not_for_account`` (the ``hosted-2026`` route preset's retired routes)."""
    if info.id in state.config.not_for_account:
        raise FunctionNotFoundError(_function_id(info.id))


def lifecycle_headers(state: EmulatorState, model: str) -> list[tuple[str, str]]:
    """The ``Deprecation`` and ``Sunset`` headers configured for ``model`` (2xx answers)."""
    headers = []
    if (deprecation := state.config.deprecation.get(model)) is not None:
        headers.append(("deprecation", deprecation))
    if (sunset := state.config.sunset.get(model)) is not None:
        headers.append(("sunset", sunset))
    return headers


def rank_hosted(
    state: EmulatorState, body: bytes, route_model: ModelInfo | None, request_id: str
) -> Ranking:
    """A hosted route's ranking (``route_model`` None: the generic route).

    Raises 422, 404, 410 (generic route: a configured end of life), 400 or 422 (overflow).
    """
    instance = _function_instance(route_model.id if route_model else GENERIC_ROUTE_MODELS[0])

    def invalid(issues: list[Issue]) -> NimError:
        return HostedValidationError(issues, instance, request_id)

    multimodal = route_model is not None and route_model.multimodal
    parsed = _parse_body(body, invalid, multimodal=multimodal)
    available = (route_model.id,) if route_model else GENERIC_ROUTE_MODELS
    if parsed.model not in available:
        raise UnknownModelError(parsed.model, available)
    info = MODELS[parsed.model]
    if route_model is None:
        check_end_of_life(state, info)
    _check_passage_count(len(parsed.texts), info.passages_on("hosted"), invalid)
    if route_model is None and parsed.is_captured_request():
        return Ranking([], 0, captured=True, model=parsed.model)
    status = state.config.overflow_status(400)

    def overflow(length: int, limit: int) -> NimError:
        return HostedTokenOverflowError(length, limit, status)

    return _score(state, parsed, info.max_tokens, info.truncate_on("hosted"), overflow)


def rank_self_hosted(state: EmulatorState, body: bytes) -> Ranking:
    """``POST /v1/ranking`` on a NIM serving ``self_hosted_model``. Raises 400, 404, 400/422."""
    served = state.config.self_hosted_model
    info = self_hosted_info(served)
    parsed = _parse_body(body, SelfHostedValidationError, multimodal=info.multimodal)
    if parsed.model != served:
        # Inferred: no capture shows what a NIM does with another model's id.
        raise SelfHostedModelNotFoundError(parsed.model, served)
    _check_passage_count(
        len(parsed.texts), info.passages_on("self-hosted"), SelfHostedValidationError
    )
    status = state.config.overflow_status(info.self_hosted_overflow_status)

    def overflow(length: int, limit: int) -> NimError:
        return SelfHostedTokenOverflowError(status, length, limit)

    limit = state.config.self_hosted_max_tokens()
    return _score(state, parsed, limit, info.truncate_on("self-hosted"), overflow)


def _parse_body(
    body: bytes, invalid: Callable[[list[Issue]], NimError], *, multimodal: bool
) -> Parsed:
    """The checked request body; raises ``invalid(issues)`` listing what is wrong with it.

    The common, valid body is checked by hand (no model object per passage);
    anything else goes through pydantic, whose messages are the answer's.
    """
    data = _body_json(body, invalid, check=False)
    fast = _fast_parse(data, multimodal=multimodal)
    if fast is not None:
        return fast  # nested 3 levels deep at most: no depth to check
    _check_depth(body, data, invalid)
    schema = MultimodalRerankRequest if multimodal else RerankRequest
    try:
        # from_attributes=True: validate as FastAPI does, so the messages are FastAPI's.
        checked = schema.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        issues = [
            Issue(tuple(error["loc"]), error["msg"], error["type"])
            for error in exc.errors(include_url=False)
        ]
        raise invalid(issues) from None
    if isinstance(checked, MultimodalRerankRequest):
        images = [p.image for p in checked.passages]
        return Parsed(
            checked.model,
            checked.query.text,
            [p.text for p in checked.passages],
            images if any(i is not None for i in images) else None,
            checked.truncate,
        )
    assert isinstance(checked, RerankRequest)
    texts: list[str | None] = [p.text for p in checked.passages]
    return Parsed(checked.model, checked.query.text, texts, None, checked.truncate)


def _body_json(
    body: bytes, invalid: Callable[[list[Issue]], NimError], *, check: bool = True
) -> Any:
    """The body as JSON; raises ``invalid`` for an empty, malformed or too deeply nested one.

    ``check=False`` leaves the depth to the caller (:func:`_check_depth`) but
    for what ``json.loads`` itself cannot read.
    """
    if not body.strip():
        raise invalid([Issue((), "Field required", "missing")])
    try:
        data = parse(body)
    except JsonTooDeepError as exc:
        raise _too_deep(exc, invalid) from None
    except ValueError as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        raise invalid([Issue((position,), "JSON decode error", "json_invalid")]) from None
    if check:
        _check_depth(body, data, invalid)
    return data


def _check_depth(body: bytes, data: object, invalid: Callable[[list[Issue]], NimError]) -> None:
    """Raises ``invalid`` for a body nested deeper than ``_json.MAX_DEPTH``."""
    try:
        check_depth(body, data)
    except JsonTooDeepError as exc:
        raise _too_deep(exc, invalid) from None


def _too_deep(exc: JsonTooDeepError, invalid: Callable[[list[Issue]], NimError]) -> NimError:
    # Inferred: NIM 2.x parses with serde_json, whose recursion limit is 128 levels.
    return invalid([Issue((), str(exc), "json_invalid")])


_BODY_KEYS: Final = frozenset({"model", "query", "passages", "truncate"})
_TEXT_ONLY: Final = frozenset({"text"})


def _fast_parse(data: object, *, multimodal: bool) -> Parsed | None:
    """``data`` as :class:`Parsed` when it is plainly valid, else None (pydantic decides)."""
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    model, query, passages = data.get("model"), data.get("query"), data.get("passages")
    truncate = data.get("truncate")
    if type(model) is not str or not 1 <= len(model) <= 128 or truncate not in _TRUNCATES:
        return None
    if type(query) is not dict or query.keys() != _TEXT_ONLY:
        return None
    query_text = query["text"]
    if type(query_text) is not str or not query_text or type(passages) is not list or not passages:
        return None
    if _all_text_only(passages):
        texts: list[str | None] = [passage["text"] for passage in passages]
        if set(map(type, texts)) == _STR and "" not in texts:
            return Parsed(model, query_text, texts, None, truncate)
    texts = []
    images: list[str | None] = []
    for passage in passages:
        if type(passage) is not dict:
            return None
        text = passage.get("text")
        if passage.keys() == _TEXT_ONLY:
            if type(text) is not str or not text:
                return None
            texts.append(text)
            images.append(None)
            continue
        if not multimodal or not passage or not passage.keys() <= _PASSAGE_KEYS:
            return None
        image = passage.get("image")
        if (text is not None and (type(text) is not str or not text)) or (
            type(image) is not str or image_problem(image) is not None
        ):
            return None
        texts.append(text)
        images.append(image)
    has_images = any(image is not None for image in images)
    return Parsed(model, query_text, texts, images if has_images else None, truncate)


def _all_text_only(passages: list[Any]) -> bool:
    """Whether every passage is a dict with one key, ``text`` (loops in C, not Python)."""
    return (
        set(map(type, passages)) == _DICT
        and set(map(len, passages)) == _ONE
        and all(map(_has_text, passages))
    )


_has_text: Final = operator.methodcaller("__contains__", "text")
_STR: Final = frozenset({str})
_DICT: Final = frozenset({dict})
_ONE: Final = frozenset({1})
_TRUNCATES: Final = (None, "NONE", "END")
_PASSAGE_KEYS: Final = frozenset({"text", "image"})


def _check_passage_count(count: int, most: int, invalid: Callable[[list[Issue]], NimError]) -> None:
    """Raises ``invalid`` for more than ``most`` passages, worded as pydantic words it."""
    if count > most:
        message = f"List should have at most {most} items after validation, not {count}"
        raise invalid([Issue(("passages",), message, "too_long")])


def _score(
    state: EmulatorState,
    parsed: Parsed,
    limit: int,
    default_truncate: Truncate,
    overflow: Callable[[int, int], NimError],
) -> Ranking:
    """Token limits, truncation and the stand-in scores; raises ``overflow(length, limit)``.

    ``limit`` and ``default_truncate`` are the route's for the model (hosted
    and self-hosted limits differ). A pair no longer in characters than the
    limit cannot be over it in tokens (a token is at least one character), so
    only longer pairs are counted, unless the answer reports the tokens used
    (``include_usage``).
    """
    cut = (parsed.truncate or default_truncate) == "END"
    query = parsed.query
    counted = state.config.include_usage
    room = limit - len(query)
    texts: list[str | None] = []
    tokens = 0
    for text in parsed.texts:
        if text is None or (not counted and len(text) <= room):
            texts.append(text)
            continue
        fit = fit_pair(query, text, limit, cut=cut)
        if fit.used > limit:
            raise overflow(fit.length, limit)
        texts.append(fit.passage)
        tokens += fit.used
    # A cut query is cut the same way in every pair: to the limit, when it alone is over it.
    scored_query = cut_tokens(query, limit) if cut and len(query) > limit else query
    images = parsed.images
    if state.config.scoring == "hash" or images is not None:
        scores = rank_mixed(scored_query, texts, images, hashed=state.config.scoring == "hash")
    else:
        scores = rank_passages(scored_query, texts)  # type: ignore[arg-type]  # no None here
    return Ranking(scores, tokens, model=parsed.model)


def _function_id(model: str) -> str:
    # Invented: a stable NVCF-style function id per model (the 422 "instance", the 404 detail).
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"reranker-nvidia-emulator:{model}"))


def _function_instance(model: str) -> str:
    return f"/v2/nvcf/pexec/functions/{_function_id(model)}"


# ---- the gateway's rules (POST /v1/rerank) --------------------------------------------------


class GatewayDocument(BaseModel):
    """A document object of the gateway: ``{"text": str}`` (no images)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)


class GatewayRequest(BaseModel):
    """A valid gateway body: Cohere's rerank shape."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=128)
    query: str = Field(min_length=1)
    documents: list[str | GatewayDocument] = Field(min_length=1)
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool = False
    truncate: Literal["NONE", "END"] | None = None


@dataclass(frozen=True)
class GatewayRanking:
    """The gateway's answer: ``(index, relevance_score)`` best first, cut to ``top_n``."""

    results: list[tuple[int, float]]
    documents: list[str]
    return_documents: bool
    model: str


def rank_gateway(state: EmulatorState, body: bytes) -> GatewayRanking:
    """``POST /v1/rerank``. Raises 422 (schema), 404 (model), 410, 400 or 422 (overflow)."""
    data = _body_json(body, GatewayValidationError)
    try:
        checked = GatewayRequest.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        issues = [
            Issue(tuple(error["loc"]), error["msg"], error["type"])
            for error in exc.errors(include_url=False)
        ]
        raise GatewayValidationError(issues) from None
    info = MODELS.get(checked.model)
    if info is None:
        raise GatewayModelNotFoundError(checked.model)
    check_end_of_life(state, info)
    texts = [d if isinstance(d, str) else d.text for d in checked.documents]
    # The gateway fronts self-hosted NIMs (inferred): their passage limit and default truncate.
    _check_passage_count(len(texts), info.passages_on("self-hosted"), GatewayValidationError)
    parsed = Parsed(checked.model, checked.query, list(texts), None, checked.truncate)
    status = state.config.overflow_status(400)

    def overflow(length: int, limit: int) -> NimError:
        return GatewayTokenOverflowError(status, length, limit)

    ranking = _score(state, parsed, info.max_tokens, info.truncate_on("self-hosted"), overflow)
    top = ranking.scores[: checked.top_n] if checked.top_n is not None else ranking.scores
    results = [(index, relevance_score(logit)) for index, logit in top]
    return GatewayRanking(results, texts, checked.return_documents, checked.model)


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
