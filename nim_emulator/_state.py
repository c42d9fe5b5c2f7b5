"""The emulator's mutable state: request log, armed faults, pending 202 results, replay cursor.

Not a port of a Go file (moto keeps this in ``models.py``). One
:class:`EmulatorState` lives at ``app.state.emulator``. It is shared by the
event loop that serves requests and by the test code that reads it, possibly
from another thread, so every method takes a lock and readers get copies.

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
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from nim_emulator._cassette import Cassette, Interaction, load_cassette
from nim_emulator._config import EmulatorConfig
from nim_emulator._faults import FaultSpec
from nim_emulator._replies import Reply

__all__ = ["REDACTED", "ArmedFault", "EmulatorState", "RequestRecord"]

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

    # ---- used by the app ------------------------------------------------------------------

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
