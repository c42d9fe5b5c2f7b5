"""Faults, all of them: the ``--fault`` grammar, and the one place where faults take effect.

**The grammar.** A spec is comma-separated ``key`` or ``key=value`` items.
Exactly one item names the fault; the others are options::

    status=CODE          answer CODE (400-599) with NVIDIA's body for it   [retry-after=SECONDS]
    latency=MS           wait MS milliseconds before answering             [jitter=MS]
    drop                 close the connection without answering (drop=reset: send a TCP RST)
    drop-mid-body        send the headers and half the body, then close
    malformed-json       answer 200 with the JSON body cut in half
    indices=MODE         corrupt rankings: missing | duplicate | out-of-range | negative
    unsorted[=MODE]      reorder rankings: ascending (default) | index | shuffled
    slow-body=MS         send the headers at once, then trickle the body over MS milliseconds
    accepted[=POLLS]     answer 202 + nvcf-reqid; GET /v2/nvcf/pexec/status/{reqid} gives
                         the result after POLLS more 202 answers (default 0)
    deprecation=VALUE    add the header "Deprecation: VALUE" to 2xx answers
    ratelimit=N/W        let N requests through per W seconds (sliding window), answer
                         NVIDIA's 429 to the others                     [retry-after=SECONDS]

    options, any fault:  count=N     apply to the next N matching requests (default: all)
                         after=N     let the first N matching requests through first
                         path=GLOB   which request paths match (fnmatch; default: the three
                                     reranking routes; "*" = every path but /_emulator/…)

Examples: ``status=503,count=2,retry-after=10``, ``latency=200,jitter=50``,
``indices=duplicate,count=1``, ``status=503,path=/v1/health/ready``,
``ratelimit=5/60``, ``ratelimit=40/60,retry-after=2``. Values
cannot contain ``,``. JSON: ``{"spec": "status=429,count=1"}`` or the fields
of :class:`FaultSpec` (``{"kind": "status", "status": 429, "count": 1}``).

**Where they take effect.** The ASGI layer hands every emulated request (anything
outside ``/_emulator/``) to :func:`serve`, which answers it in this order:

1. latency: the configured ``latency_ms`` + jitter, plus the first matching
   ``latency`` fault; a client that disconnects meanwhile ends the request;
2. outcome: a ``ratelimit`` fault whose window is full (429), else the first
   matching ``status`` or ``drop`` fault, else the NIM's answer (the response
   layer's);
3. on a 200 with ``rankings``: the first matching ``indices``, ``unsorted`` and
   ``malformed-json`` faults; on a 2xx: ``deprecation``; on a 200: ``accepted``;
4. delivery: the first matching ``drop-mid-body`` or ``slow-body`` fault, if
   the answer has a body; else the answer goes out whole.

At most one fault of each kind applies to a request, and a fault is used up
(its ``count`` decremented) only when it takes effect; one that does not apply
waits for a later request.

Dropping a connection: on the emulator's own server the TCP connection is
closed (FIN; ``drop=reset`` sends RST) through the connection handle the
server puts in the ASGI scope. In-process there is no socket, so the fault
raises :class:`~nim_emulator.exceptions.EmulatedConnectionDrop` (an
``httpx.RemoteProtocolError``) or ``EmulatedConnectionReset`` (an
``httpx.ReadError``), which ``httpx.ASGITransport`` hands to the client. Under
another ASGI server the exception reaches that server, which typically answers
500 or closes the connection.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from nim_emulator._wire import Reply, Wire
from nim_emulator.exceptions import (
    EmulatedConnectionDrop,
    EmulatedConnectionReset,
    FaultSpecError,
    ForbiddenError,
    NimError,
    PageNotFoundError,
    ProblemDetailsError,
)

if TYPE_CHECKING:  # the model layer keeps the armed faults, so it imports this module
    from nim_emulator.models import EmulatorState, RequestRecord

__all__ = ["FAULT_GRAMMAR", "FaultKind", "FaultSpec", "accepted_reply", "serve"]


# ---- the grammar ----------------------------------------------------------------------------

FaultKind = Literal[
    "status",
    "latency",
    "drop",
    "drop-mid-body",
    "malformed-json",
    "indices",
    "unsorted",
    "slow-body",
    "accepted",
    "deprecation",
    "ratelimit",
]

FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)

FAULT_GRAMMAR: Final = """\
SPEC is comma-separated KEY or KEY=VALUE items; one item names the fault:
  status=CODE        answer CODE (400-599) with NVIDIA's body  [retry-after=SECONDS]
  latency=MS         wait MS ms before answering               [jitter=MS]
  drop               close the connection, no answer (drop=reset: TCP RST)
  drop-mid-body      send headers and half the body, then close
  malformed-json     answer 200 with the JSON body cut in half
  indices=MODE       missing | duplicate | out-of-range | negative
  unsorted[=MODE]    ascending (default) | index | shuffled
  slow-body=MS       headers at once, body trickled over MS ms
  accepted[=POLLS]   202 + nvcf-reqid; poll GET /v2/nvcf/pexec/status/{reqid}
  deprecation=VALUE  add "Deprecation: VALUE" to 2xx answers
  ratelimit=N/W      N requests per W seconds (sliding), then 429  [retry-after=SECONDS]
options: count=N (next N matching requests; default all), after=N (skip N first),
         path=GLOB (default: the reranking routes; * = every path)
e.g. status=503,count=2,retry-after=10  latency=200  indices=duplicate,count=1
     ratelimit=5/60  ratelimit=5/60,retry-after=2"""

DROP_MODES: Final = ("close", "reset")
INDICES_MODES: Final = ("missing", "duplicate", "out-of-range", "negative")
UNSORTED_MODES: Final = ("ascending", "index", "shuffled")
MAX_MS: Final = 3_600_000.0

_OPTION_KEYS: Final = {"count", "after", "path", "retry-after", "jitter"}
_NO_VALUE: Final = {"drop-mid-body", "malformed-json"}


@dataclass(frozen=True)
class FaultSpec:
    """One fault, as parsed from a spec string or JSON. Immutable; arm it to use it.

    ``count=None`` means every matching request; ``after`` lets that many
    matching requests through before the fault applies; ``path=None`` means
    the four reranking routes. Only the fields of ``kind`` may be set (``status`` and
    ``retry_after`` for ``status``, ``latency_ms`` and ``jitter_ms`` for
    ``latency``, ``mode`` for ``drop``/``indices``/``unsorted``,
    ``slow_body_ms``, ``polls`` for ``accepted``, ``deprecation``,
    ``rate_limit`` and ``window_s`` and ``retry_after`` for ``ratelimit``).
    For ``ratelimit``, ``count`` caps the 429 answers it gives.
    """

    kind: FaultKind
    count: int | None = None
    after: int | None = None
    path: str | None = None
    status: int | None = None
    retry_after: int | None = None
    latency_ms: float | None = None
    jitter_ms: float | None = None
    mode: str | None = None
    slow_body_ms: float | None = None
    polls: int | None = None
    deprecation: str | None = None
    rate_limit: int | None = None
    window_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"unknown fault {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            )
        if self.count is not None and (_is_not_int(self.count) or self.count < 1):
            raise FaultSpecError(f"count must be a whole number >= 1, not {self.count!r}")
        if self.after is not None and (_is_not_int(self.after) or self.after < 0):
            raise FaultSpecError(f"after must be a whole number >= 0, not {self.after!r}")
        if self.path is not None and (not isinstance(self.path, str) or not self.path):
            raise FaultSpecError(f"path must be a non-empty glob, not {self.path!r}")
        allowed = _KIND_FIELDS[self.kind]
        for name in _KIND_SPECIFIC:
            if getattr(self, name) is not None and name not in allowed:
                raise FaultSpecError(f"{_KEY_OF[name]} does not apply to the {self.kind} fault")
        getattr(self, f"_check_{self.kind.replace('-', '_')}")()

    def _check_status(self) -> None:
        if self.status is None or _is_not_int(self.status) or not 400 <= self.status <= 599:
            raise FaultSpecError(f"status must be a code from 400 to 599, not {self.status!r}")
        if self.retry_after is not None and (_is_not_int(self.retry_after) or self.retry_after < 0):
            raise FaultSpecError(
                f"retry-after must be a whole number of seconds >= 0, not {self.retry_after!r}"
            )

    def _check_latency(self) -> None:
        _check_ms("latency", self.latency_ms, required=True)
        _check_ms("jitter", self.jitter_ms, required=False)

    def _check_drop(self) -> None:
        self._check_mode("drop", DROP_MODES, default="close")

    def _check_drop_mid_body(self) -> None:
        """No fields."""

    def _check_malformed_json(self) -> None:
        """No fields."""

    def _check_indices(self) -> None:
        self._check_mode("indices", INDICES_MODES, default=None)

    def _check_unsorted(self) -> None:
        self._check_mode("unsorted", UNSORTED_MODES, default="ascending")

    def _check_slow_body(self) -> None:
        _check_ms("slow-body", self.slow_body_ms, required=True)

    def _check_accepted(self) -> None:
        if self.polls is None:
            object.__setattr__(self, "polls", 0)
        elif _is_not_int(self.polls) or not 0 <= self.polls <= 1000:
            raise FaultSpecError(f"accepted takes a number of polls 0-1000, not {self.polls!r}")

    def _check_deprecation(self) -> None:
        value = self.deprecation
        if not isinstance(value, str) or not value.strip() or "," in value:
            raise FaultSpecError(
                f"deprecation needs a header value without ',' (e.g. 2026-12-01), not {value!r}"
            )
        if any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
            raise FaultSpecError(f"deprecation value must be printable ASCII, not {value!r}")

    def _check_ratelimit(self) -> None:
        if self.rate_limit is None or _is_not_int(self.rate_limit) or self.rate_limit < 1:
            raise FaultSpecError(
                f"ratelimit needs N/W: N a whole number >= 1 of requests, not {self.rate_limit!r}"
            )
        window = self.window_s
        if (
            isinstance(window, bool)
            or not isinstance(window, int | float)
            or not math.isfinite(window)
            or not 0 < window <= MAX_MS / 1000
        ):
            raise FaultSpecError(
                f"ratelimit needs N/W: W a number of seconds > 0 and <= 3600, not {window!r}"
            )
        if self.retry_after is not None and (_is_not_int(self.retry_after) or self.retry_after < 0):
            raise FaultSpecError(
                f"retry-after must be a whole number of seconds >= 0, not {self.retry_after!r}"
            )

    def _check_mode(self, key: str, modes: tuple[str, ...], default: str | None) -> None:
        if self.mode is None and default is not None:
            object.__setattr__(self, "mode", default)
        if self.mode not in modes:
            raise FaultSpecError(f"{key} must be one of {' | '.join(modes)}, not {self.mode!r}")

    @classmethod
    def parse(cls, spec: str) -> FaultSpec:
        """Parse the ``--fault`` grammar (module docstring). Raises :class:`FaultSpecError`."""
        if not isinstance(spec, str) or not spec.strip():
            raise FaultSpecError("empty fault spec; " + _HINT)
        items: dict[str, str | None] = {}
        for raw in spec.split(","):
            key, sep, value = raw.strip().partition("=")
            key = key.strip().lower()
            if not key:
                raise FaultSpecError(f"empty item in fault spec {spec!r}")
            if key in items:
                raise FaultSpecError(f"{key} is given twice in fault spec {spec!r}")
            items[key] = value.strip() if sep else None
        kinds = [key for key in items if key in FAULT_KINDS]
        unknown = [key for key in items if key not in FAULT_KINDS and key not in _OPTION_KEYS]
        if unknown:
            raise FaultSpecError(f"unknown key {unknown[0]!r} in fault spec {spec!r}; " + _HINT)
        if len(kinds) != 1:
            named = "no fault" if not kinds else "several faults (" + ", ".join(kinds) + ")"
            raise FaultSpecError(f"fault spec {spec!r} names {named}; name exactly one")
        kind = kinds[0]
        kind_value = items[kind]
        if kind in _NO_VALUE and kind_value is not None:
            raise FaultSpecError(f"{kind} takes no value (got {kind}={kind_value})")
        values: dict[str, Any] = {"kind": kind}
        if kind == "ratelimit":
            values["rate_limit"], values["window_s"] = _rate(kind_value)
        elif kind not in _NO_VALUE and (kind_value is not None or kind not in _OPTIONAL_VALUE):
            values[_VALUE_FIELD[kind]] = _convert(kind, _VALUE_FIELD[kind], kind_value)
        for key in ("count", "after", "path", "retry-after", "jitter"):
            if key in items:
                name = key.replace("-", "_") if key != "jitter" else "jitter_ms"
                values[name] = _convert(key, name, items[key])
        return cls(**values)

    def to_spec(self) -> str:
        """The canonical spec string; ``FaultSpec.parse(s.to_spec()) == s``."""
        parts: list[str] = []
        value_field = _VALUE_FIELD.get(self.kind)
        value = getattr(self, value_field) if value_field else None
        if self.kind == "ratelimit":
            value = f"{self.rate_limit}/{_fmt(self.window_s)}"
        parts.append(self.kind if value is None else f"{self.kind}={_fmt(value)}")
        if self.retry_after is not None:
            parts.append(f"retry-after={self.retry_after}")
        if self.jitter_ms is not None:
            parts.append(f"jitter={_fmt(self.jitter_ms)}")
        if self.count is not None:
            parts.append(f"count={self.count}")
        if self.after is not None:
            parts.append(f"after={self.after}")
        if self.path is not None:
            parts.append(f"path={self.path}")
        return ",".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``kind`` and every field that is set."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    @classmethod
    def from_json(cls, data: object) -> FaultSpec:
        """Build from ``{"spec": "..."}`` or from the field names of this class."""
        if not isinstance(data, dict):
            raise FaultSpecError(f"a fault must be a JSON object, not {type(data).__name__}")
        if "spec" in data:
            if len(data) != 1:
                raise FaultSpecError('give either "spec" alone or the fault\'s fields, not both')
            spec = data["spec"]
            if not isinstance(spec, str):
                raise FaultSpecError(f'"spec" must be a string, not {type(spec).__name__}')
            return cls.parse(spec)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise FaultSpecError(
                f"unknown fault field {unknown[0]!r}; expected spec or {', '.join(sorted(names))}"
            )
        if "kind" not in data:
            raise FaultSpecError('a fault object needs "kind" (or "spec")')
        return cls(**data)

    def matches(self, path: str, *, reranking_route: bool) -> bool:
        """Whether this fault applies to a request for ``path``."""
        if self.path is None:
            return reranking_route
        return fnmatchcase(path, self.path)


_HINT: Final = "see --help for the fault grammar (e.g. status=503,count=2)"
_VALUE_FIELD: Final[dict[str, str]] = {
    "status": "status",
    "latency": "latency_ms",
    "drop": "mode",
    "indices": "mode",
    "unsorted": "mode",
    "slow-body": "slow_body_ms",
    "accepted": "polls",
    "deprecation": "deprecation",
}
_OPTIONAL_VALUE: Final = {"drop", "unsorted", "accepted"}
_KIND_SPECIFIC: Final = (
    "status",
    "retry_after",
    "latency_ms",
    "jitter_ms",
    "mode",
    "slow_body_ms",
    "polls",
    "deprecation",
    "rate_limit",
    "window_s",
)
_KIND_FIELDS: Final[dict[str, frozenset[str]]] = {
    "status": frozenset({"status", "retry_after"}),
    "latency": frozenset({"latency_ms", "jitter_ms"}),
    "drop": frozenset({"mode"}),
    "drop-mid-body": frozenset(),
    "malformed-json": frozenset(),
    "indices": frozenset({"mode"}),
    "unsorted": frozenset({"mode"}),
    "slow-body": frozenset({"slow_body_ms"}),
    "accepted": frozenset({"polls"}),
    "deprecation": frozenset({"deprecation"}),
    "ratelimit": frozenset({"rate_limit", "window_s", "retry_after"}),
}
_KEY_OF: Final = {
    "status": "status",
    "retry_after": "retry-after",
    "latency_ms": "latency",
    "jitter_ms": "jitter",
    "mode": "a mode",
    "slow_body_ms": "slow-body",
    "polls": "polls",
    "deprecation": "deprecation",
    "rate_limit": "ratelimit",
    "window_s": "ratelimit",
}


def _is_not_int(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def _check_ms(key: str, value: object, *, required: bool) -> None:
    if value is None and not required:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_MS
    ):
        raise FaultSpecError(
            f"{key} must be a number of milliseconds 0-{MAX_MS:.0f}, not {value!r}"
        )


def _convert(key: str, name: str, value: str | None) -> object:
    if value is None or value == "":
        raise FaultSpecError(f"{key} needs a value ({key}=...)")
    if name in ("status", "retry_after", "count", "after", "polls"):
        try:
            return int(value)
        except ValueError:
            raise FaultSpecError(f"{key} must be a whole number, not {value!r}") from None
    if name in ("latency_ms", "jitter_ms", "slow_body_ms"):
        try:
            return float(value)
        except ValueError:
            raise FaultSpecError(f"{key} must be a number of milliseconds, not {value!r}") from None
    return value


def _rate(value: str | None) -> tuple[int, float]:
    """``N/W`` of a ``ratelimit`` item: N requests, W seconds."""
    if value is None or value == "":
        raise FaultSpecError("ratelimit needs a value (ratelimit=N/W, e.g. ratelimit=5/60)")
    count, slash, window = value.partition("/")
    if not slash:
        raise FaultSpecError(
            f"ratelimit needs N/W (N requests per W seconds, e.g. ratelimit=5/60), not {value!r}"
        )
    try:
        return int(count), float(window)
    except ValueError:
        raise FaultSpecError(
            f"ratelimit needs N/W with numbers (e.g. ratelimit=5/60), not {value!r}"
        ) from None


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---- where the faults take effect -----------------------------------------------------------

SLOW_BODY_CHUNKS: Final = 16
# Inferred: Retry-After of a 503 when the fault gives none. 10800 is the one value reported
# (for a model that is offline); give retry-after=N to change it.
DEFAULT_503_RETRY_AFTER: Final = 10800


async def serve(
    state: EmulatorState,
    record: RequestRecord,
    wire: Wire,
    answer: Callable[[], Reply],
    *,
    reranking_route: bool,
) -> None:
    """Answer one emulated request, ``answer()`` being the NIM's reply (module docstring)."""
    run = _Run(state, record, reranking_route)
    delay_ms = state.config.latency_ms + state.uniform(state.config.jitter_ms)
    latency = run.take("latency")
    if latency is not None:
        delay_ms += (latency.latency_ms or 0.0) + state.uniform(latency.jitter_ms or 0.0)
    if not await wire.pause(delay_ms / 1000.0):
        state.update(record, outcome="client-disconnected")
        return

    limited = state.rate_limited(record, reranking_route=reranking_route)
    outcome = None if limited is not None else run.take("status", "drop")
    if outcome is not None and outcome.kind == "drop":
        state.update(record, outcome="dropped")
        await _drop(wire, reset=outcome.mode == "reset", partial=None)
        return
    if limited is not None:
        reply = _status_answer(429, limited.retry_after, "")
    elif outcome is not None:
        assert outcome.status is not None
        reply = _status_answer(outcome.status, outcome.retry_after, str(uuid.uuid4()))
    else:
        reply = run.rewrite(answer())

    delivery = run.take("drop-mid-body", "slow-body") if reply.body else None
    state.update(record, status=reply.status)
    if delivery is not None and delivery.kind == "drop-mid-body":
        state.update(record, outcome="dropped-mid-body")
        cut = len(reply.body) // 2
        await wire.start(reply)
        if cut:
            await wire.chunk(reply.body[:cut], more=True)
        await _drop(wire, reset=False, partial=(cut, len(reply.body)))
        return
    # The record says "answered" before the last byte goes out, so a client that reads
    # the log right after its answer never sees "pending".
    if delivery is not None:
        seconds = (delivery.slow_body_ms or 0.0) / 1000.0
        trickled = await _send_slowly(
            wire, reply, seconds, before_last=lambda: state.update(record, outcome="answered")
        )
        if not trickled:
            state.update(record, outcome="client-disconnected")
        return
    state.update(record, outcome="answered")
    await wire.reply(reply)


def _status_answer(status: int, retry_after: int | None, request_id: str) -> Reply:
    """The answer of a ``status=CODE`` fault: NVIDIA's body for the code.

    Captured bodies: 403, 404 (text page), 429, 502; every other body is
    inferred (:meth:`ProblemDetailsError.inferred`). 504 adds ``nvcf-status:
    errored`` and ``nvcf-reqid``. A 503 carries ``Retry-After`` (10800 unless
    ``retry-after`` is given); other codes carry it only when ``retry-after``
    is given.
    """
    error: NimError
    if status == 403:
        error = ForbiddenError()
    elif status == 404:
        error = PageNotFoundError()
    elif status == 429:
        error = ProblemDetailsError.too_many_requests()
    elif status == 502:
        error = ProblemDetailsError.bad_gateway()
    else:
        error = ProblemDetailsError.inferred(status)
    reply = error.reply()
    if status == 503 and retry_after is None:
        retry_after = DEFAULT_503_RETRY_AFTER
    if retry_after is not None:
        reply.headers.append(("retry-after", str(retry_after)))
    if status == 504:
        reply.headers += [("nvcf-reqid", request_id), ("nvcf-status", "errored")]
    return reply


class _Run:
    """The faults of one request: which are taken, and the rewrites of stage 3."""

    def __init__(self, state: EmulatorState, record: RequestRecord, reranking_route: bool) -> None:
        self.state = state
        self.record = record
        self.reranking_route = reranking_route

    def take(self, *kinds: str) -> FaultSpec | None:
        """The first armed fault of one of ``kinds`` that matches; it is used up."""
        return self.state.take_fault(self.record, kinds, reranking_route=self.reranking_route)

    def rewrite(self, reply: Reply) -> Reply:
        """Stage 3: the body faults, ``deprecation`` and ``accepted``."""
        payload = None
        if reply.status == 200 and self.state.armed(_BODY_FAULTS):
            payload = reply.parsed_payload()
        if payload is not None and _rankable(payload):
            fault = self.take("indices")
            if fault is not None:
                reply = reply.with_payload(_corrupt_indices(payload, fault.mode or ""))
            fault = self.take("unsorted")
            if fault is not None:
                reply = reply.with_payload(_reorder(reply.payload or payload, fault.mode or ""))
            if self.take("malformed-json") is not None:
                reply.body = reply.body[: len(reply.body) // 2]
        if 200 <= reply.status < 300:
            fault = self.take("deprecation")
            if fault is not None and fault.deprecation is not None:
                reply.headers.append(("deprecation", fault.deprecation))
        if reply.status == 200:
            fault = self.take("accepted")
            if fault is not None:
                request_id = reply.header("nvcf-reqid") or str(uuid.uuid4())
                self.state.store_pending(request_id, reply, fault.polls or 0)
                accepted = accepted_reply(request_id)
                deprecation = reply.header("deprecation")
                if deprecation is not None:
                    accepted.headers.append(("deprecation", deprecation))
                return accepted
        return reply


_BODY_FAULTS: Final = ("indices", "unsorted", "malformed-json")


def accepted_reply(request_id: str) -> Reply:
    """202 with an empty body, ``nvcf-status: in-progress`` and ``nvcf-reqid`` (NVCF polling)."""
    return Reply(202, [("nvcf-reqid", request_id), ("nvcf-status", "in-progress")])


def _rankable(payload: dict[str, Any]) -> bool:
    """Whether ``rankings`` is a non-empty list of objects (replayed bodies may be anything)."""
    rankings = payload.get("rankings")
    return (
        isinstance(rankings, list) and bool(rankings) and all(isinstance(e, dict) for e in rankings)
    )


def _corrupt_indices(payload: dict[str, Any], mode: str) -> dict[str, Any]:
    """``rankings`` with one bad index: the last entry (the lowest logit) is the one hit."""
    rankings = [dict(entry) for entry in payload["rankings"]]
    if mode == "missing":
        rankings = rankings[:-1]
    elif mode == "duplicate":
        if len(rankings) > 1:
            rankings[-1]["index"] = rankings[0]["index"]
        else:
            rankings.append(dict(rankings[0]))
    elif mode == "out-of-range":
        rankings[-1]["index"] = len(payload["rankings"])
    else:  # negative
        rankings[-1]["index"] = -1
    return {**payload, "rankings": rankings}


def _reorder(payload: dict[str, Any], mode: str) -> dict[str, Any]:
    """``rankings`` out of logit order: ascending, by index, or a fixed shuffle."""
    rankings = [dict(entry) for entry in payload["rankings"]]
    if mode == "ascending":
        rankings.sort(key=lambda e: (_logit(e), -_index(e)))
    elif mode == "index":
        rankings.sort(key=_index)
    else:  # shuffled: seeded by the rankings themselves, so the same answer every time
        seed = json.dumps(rankings, sort_keys=True)
        shuffled = list(rankings)
        random.Random(seed).shuffle(shuffled)  # noqa: S311  (not security)
        if shuffled == rankings and len(rankings) > 1:
            shuffled = shuffled[1:] + shuffled[:1]
        rankings = shuffled
    return {**payload, "rankings": rankings}


def _logit(entry: dict[str, Any]) -> float:
    value = entry.get("logit")
    return float(value) if isinstance(value, int | float) else 0.0


def _index(entry: dict[str, Any]) -> int:
    value = entry.get("index")
    return value if isinstance(value, int) else 0


async def _send_slowly(
    wire: Wire, reply: Reply, seconds: float, before_last: Callable[[], None]
) -> bool:
    """``slow-body``: headers now, then the body in up to 16 chunks spread over ``seconds``."""
    await wire.start(reply)
    body = reply.body
    pieces = min(SLOW_BODY_CHUNKS, len(body))
    size = -(-len(body) // pieces)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    for chunk in chunks:
        if not await wire.pause(seconds / len(chunks)):
            return False
        await wire.chunk(chunk, more=True)
    before_last()
    await wire.chunk(b"", more=False)
    return True


async def _drop(wire: Wire, *, reset: bool, partial: tuple[int, int] | None) -> None:
    """``drop`` / ``drop-mid-body``: close the connection (server) or raise what httpx would."""
    if wire.conn is not None:
        await wire.conn.drop(reset=reset)
        return
    if reset:
        raise EmulatedConnectionReset("[Errno 104] Connection reset by peer")
    if partial is None:
        raise EmulatedConnectionDrop("Server disconnected without sending a response.")
    received, expected = partial
    raise EmulatedConnectionDrop(
        "peer closed connection without sending complete message body "
        f"(received {received} bytes, expected {expected})"
    )
