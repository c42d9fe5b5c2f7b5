"""Fault specs: the small grammar of ``--fault`` and its JSON twin on ``POST /_emulator/faults``.

Not a port of a Go file. A spec is comma-separated ``key`` or ``key=value``
items. Exactly one item names the fault; the others are options::

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

    options, any fault:  count=N     apply to the next N matching requests (default: all)
                         after=N     let the first N matching requests through first
                         path=GLOB   which request paths match (fnmatch; default: the three
                                     reranking routes; "*" = every path but /_emulator/…)

Examples: ``status=503,count=2,retry-after=10``, ``latency=200,jitter=50``,
``indices=duplicate,count=1``, ``status=503,path=/v1/health/ready``. Values
cannot contain ``,``. JSON: ``{"spec": "status=429,count=1"}`` or the fields
of :class:`FaultSpec` (``{"kind": "status", "status": 429, "count": 1}``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from fnmatch import fnmatchcase
from typing import Any, Final, Literal, get_args

from nim_emulator._errors import FaultSpecError

__all__ = ["FAULT_GRAMMAR", "FaultKind", "FaultSpec"]

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
options: count=N (next N matching requests; default all), after=N (skip N first),
         path=GLOB (default: the reranking routes; * = every path)
e.g. status=503,count=2,retry-after=10  latency=200  indices=duplicate,count=1"""

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
    the three reranking routes. Only the fields of ``kind`` may be set (``status`` and
    ``retry_after`` for ``status``, ``latency_ms`` and ``jitter_ms`` for
    ``latency``, ``mode`` for ``drop``/``indices``/``unsorted``,
    ``slow_body_ms``, ``polls`` for ``accepted``, ``deprecation``).
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
        if kind not in _NO_VALUE and (kind_value is not None or kind not in _OPTIONAL_VALUE):
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


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
