"""The emulator's settings: one dataclass shared by the Python API and the command line."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from nim_emulator._cassette import Cassette
from nim_emulator._catalogue import DEFAULT_SELF_HOSTED_MODEL, self_hosted_info
from nim_emulator.exceptions import EmulatorConfigError
from nim_emulator.faults import FaultSpec

__all__ = [
    "DEFAULT_HEADER_TIMEOUT_S",
    "DEFAULT_LOG_BODY_LIMIT",
    "ROUTES",
    "ROUTE_PRESETS",
    "SCORINGS",
    "EmulatorConfig",
    "default_max_connections",
]

# The route groups that can be switched on and off: the generic hosted route, the hosted
# per-model routes, a self-hosted NIM's /v1/ranking and the gateway's /v1/rerank.
ROUTES: Final = ("retrieval", "model", "ranking", "rerank")
SCORINGS: Final = ("bm25", "hash")

# Named route sets. "hosted-2026" is NVIDIA's hosted catalogue as accounts met it in 2026: the
# generic and per-model hosted routes only, nv-rerankqa-mistral-4b-v3's route answering the
# captured 404 "Function '<id>': Not found for account '<id>'" (LlamaIndex's NVIDIARerank 0.7.0
# defaults to that model), and llama-3.2-nv-rerankqa-1b-v2 past its 2026-05-18 end of life (410,
# from the catalogue's date).
ROUTE_PRESETS: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "hosted-2026": (
        frozenset({"retrieval", "model"}),
        frozenset({"nvidia/nv-rerankqa-mistral-4b-v3"}),
    ),
}

DEFAULT_HEADER_TIMEOUT_S: Final = 10.0
"""Seconds a connection has to send a request's headers (slow-header clients are closed)."""

DEFAULT_LOG_BODY_LIMIT: Final = 1 << 20
"""Bytes of a request body the request log keeps (1 MiB); past it a prefix and a digest."""

_RESERVED_DESCRIPTORS: Final = 64


def default_max_connections() -> int:
    """Open connections the server allows by default: the descriptor limit less 64, >= 16.

    With the common ``ulimit -n 1024`` that is 960: connections past it are
    answered 503 and closed, so the process keeps descriptors for its own use.
    """
    try:
        import resource  # noqa: PLC0415 - POSIX only; Windows has no descriptor limit to read
    except ImportError:  # pragma: no cover - Windows
        return 960
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # pragma: no cover - every POSIX system has the limit
        return 960
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 4096
    return max(16, min(4096, soft - _RESERVED_DESCRIPTORS))


@dataclass
class EmulatorConfig:
    """How one emulator instance behaves.

    * ``api_key`` — when set, a hosted request whose bearer token differs gets
      403; when None, any well-formed bearer token is accepted. The
      self-hosted routes never check keys (a stock NIM container needs none).
    * ``latency_ms``, ``jitter_ms`` — every emulated (non-control) request
      waits ``latency_ms`` plus a uniform random ``0..jitter_ms`` before its answer.
    * ``faults`` — armed at start-up, in order (see :class:`FaultSpec`), and
      re-armed by ``reset()``.
    * ``self_hosted_model`` — the one model ``POST /v1/ranking`` and
      ``GET /v1/models`` serve.
    * ``include_usage`` — add ``usage`` to ``/v1/ranking`` answers.
    * ``replay`` — a vcrpy cassette (path or loaded :class:`Cassette`): answer
      from it instead of emulating.
    * ``now`` — the time end-of-life checks use (None: the real clock, UTC).
    * ``seed`` — seeds the jitter's random numbers (None: unseeded).
    * ``routes`` — the route groups that answer (``ROUTES``; None: all); a
      group switched off is NVIDIA's ``404 page not found``, like a path no
      deployment serves. A preset name (``ROUTE_PRESETS``: ``"hosted-2026"``)
      stands for its groups and adds its models to ``not_for_account``; a
      string is read as comma-separated names.
    * ``not_for_account`` — model ids whose hosted routes answer NVIDIA's
      captured 404 "Function '<id>': Not found for account '<id>'".
    * ``pipeline_max_seq_len`` — a self-hosted NIM's ``NIM_PIPELINE_MAX_SEQ_LEN``:
      the token limit of ``/v1/ranking``'s model (None: its default; at most
      the model's maximum, e.g. 32768 for Nemotron 3.5 Rerank, whose default is
      10240).
    * ``nim_version`` — the NIM version to play (``"1.3"``, ``"2.4"``, …): a
      token overflow is 400 on 1.x and 422 on 2.x, on every reranking route.
      None: the model's own status on ``/v1/ranking`` and 400 elsewhere.
    * ``deprecation``, ``sunset`` — model id → the value of the ``Deprecation``
      / ``Sunset`` header added to that model's 2xx answers.
    * ``end_of_life`` — model id → when it was retired (timezone-aware), over
      the catalogue's dates: from then on its requests answer NVIDIA's 410.
    * ``model_list_id`` — the id ``GET /v1/models`` advertises (NIM 2.x may
      advertise its mount path); when set, the entry also carries ``root``,
      the served model. None: ``self_hosted_model``, without ``root``.
    * ``scoring`` — ``"bm25"`` (query-aware stand-in) or ``"hash"`` (a cheap,
      deterministic score per passage from a hash of query and text, for
      benchmarks).
    * ``log_requests``, ``max_logged`` — keep the request log (on by default),
      and at most how many records (None: all; the oldest go first).
    * ``log_body_limit`` — bytes of each request body the log keeps (1 MiB;
      None: all). A longer body is logged as its first bytes with its size and
      SHA-256, so one large request cannot hold its whole body in the log.
    * ``header_timeout_s`` — on the server front end, seconds a connection has
      to send a complete request head (10); slower ones are closed, so
      slow-header clients cannot hold connections for ever.
    * ``max_connections`` — on the server front end, open connections allowed
      at once (None: :func:`default_max_connections`); past it a new
      connection is answered 503 and closed.
    """

    api_key: str | None = None
    latency_ms: float = 0
    jitter_ms: float = 0
    faults: list[FaultSpec] = field(default_factory=list)
    self_hosted_model: str = DEFAULT_SELF_HOSTED_MODEL
    include_usage: bool = False
    replay: str | Path | Cassette | None = None
    now: datetime | None = None
    seed: int | None = None
    routes: frozenset[str] | str | None = None
    not_for_account: frozenset[str] = frozenset()
    pipeline_max_seq_len: int | None = None
    nim_version: str | None = None
    deprecation: dict[str, str] = field(default_factory=dict)
    sunset: dict[str, str] = field(default_factory=dict)
    end_of_life: dict[str, datetime] = field(default_factory=dict)
    model_list_id: str | None = None
    scoring: Literal["bm25", "hash"] = "bm25"
    log_requests: bool = True
    max_logged: int | None = None
    log_body_limit: int | None = DEFAULT_LOG_BODY_LIMIT
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    max_connections: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency_ms", "jitter_ms"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise EmulatorConfigError(f"{name} must be a finite number >= 0, not {value!r}")
        if (
            not isinstance(self.self_hosted_model, str)
            or not 1 <= len(self.self_hosted_model) <= 128
        ):
            raise EmulatorConfigError(
                f"self_hosted_model must be a model id of 1-128 characters, "
                f"not {self.self_hosted_model!r}"
            )
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise EmulatorConfigError("api_key must be a non-empty string or None")
        if self.now is not None and self.now.tzinfo is None:
            raise EmulatorConfigError("now must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
        for fault in self.faults:
            if not isinstance(fault, FaultSpec):
                raise EmulatorConfigError(
                    f"faults must hold FaultSpec values (FaultSpec.parse('...')), not {fault!r}"
                )
        self._check_extensions()

    def _check_extensions(self) -> None:
        self._check_routes()
        self._check_limits()
        if self.nim_version is not None and nim_major(self.nim_version) is None:
            raise EmulatorConfigError(
                f"nim_version must look like 1.3 or 2.4.0, not {self.nim_version!r}"
            )
        for name in ("deprecation", "sunset"):
            for model, value in getattr(self, name).items():
                if not isinstance(value, str) or not value.isprintable() or not value.strip():
                    raise EmulatorConfigError(
                        f"{name}[{model!r}] must be a printable header value, not {value!r}"
                    )
        for model, when in self.end_of_life.items():
            if not isinstance(when, datetime) or when.tzinfo is None:
                raise EmulatorConfigError(
                    f"end_of_life[{model!r}] must be a timezone-aware datetime, not {when!r}"
                )
        if self.model_list_id is not None and (
            not isinstance(self.model_list_id, str) or not self.model_list_id
        ):
            raise EmulatorConfigError("model_list_id must be a non-empty string or None")
        if self.scoring not in SCORINGS:
            raise EmulatorConfigError(
                f"scoring must be one of {', '.join(SCORINGS)}, not {self.scoring!r}"
            )
        if self.max_logged is not None and not _whole(self.max_logged, 0):
            raise EmulatorConfigError(
                f"max_logged must be a whole number >= 0 or None, not {self.max_logged!r}"
            )

    def _check_routes(self) -> None:
        self.not_for_account = frozenset(self.not_for_account)
        if self.routes is None:
            return
        names = self.routes.split(",") if isinstance(self.routes, str) else list(self.routes)
        groups: set[str] = set()
        for raw in names:
            name = raw.strip() if isinstance(raw, str) else raw
            if name in ROUTE_PRESETS:
                preset_groups, retired = ROUTE_PRESETS[name]
                groups |= preset_groups
                self.not_for_account |= retired
            elif name in ROUTES:
                groups.add(name)
            else:
                known = ", ".join((*ROUTES, *ROUTE_PRESETS))
                raise EmulatorConfigError(f"unknown route group {name!r}; expected some of {known}")
        if not groups:
            raise EmulatorConfigError("routes names no route group; None serves them all")
        self.routes = frozenset(groups)

    def _check_limits(self) -> None:
        if self.pipeline_max_seq_len is not None:
            info = self_hosted_info(self.self_hosted_model)
            most = info.max_seq_len or info.max_tokens
            if not _whole(self.pipeline_max_seq_len, 1) or self.pipeline_max_seq_len > most:
                raise EmulatorConfigError(
                    f"pipeline_max_seq_len must be a whole number 1-{most} for "
                    f"{info.id}, not {self.pipeline_max_seq_len!r}"
                )
        if self.log_body_limit is not None and not _whole(self.log_body_limit, 0):
            raise EmulatorConfigError(
                f"log_body_limit must be a whole number >= 0 or None, not {self.log_body_limit!r}"
            )
        timeout = self.header_timeout_s
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise EmulatorConfigError(
                f"header_timeout_s must be a finite number > 0, not {timeout!r}"
            )
        if self.max_connections is not None and not _whole(self.max_connections, 1):
            raise EmulatorConfigError(
                f"max_connections must be a whole number >= 1 or None, not {self.max_connections!r}"
            )

    def connection_limit(self) -> int:
        """``max_connections``, or the default drawn from the descriptor limit."""
        return self.max_connections or default_max_connections()

    def self_hosted_max_tokens(self) -> int:
        """The token limit of ``/v1/ranking``'s model: ``pipeline_max_seq_len`` or its default."""
        info = self_hosted_info(self.self_hosted_model)
        return self.pipeline_max_seq_len or info.max_tokens

    def route_on(self, group: str) -> bool:
        """Whether the route group ``group`` (one of ``ROUTES``) answers."""
        return self.routes is None or group in self.routes

    def overflow_status(self, model_default: int) -> int:
        """The status of a token overflow: by ``nim_version`` when set, else ``model_default``."""
        if self.nim_version is None:
            return model_default
        return 400 if nim_major(self.nim_version) == 1 else 422


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def nim_major(version: str) -> int | None:
    """The major number of a NIM version (``"2.4.0"`` → 2); None when it is not one."""
    if not isinstance(version, str):
        return None
    head = version.strip().lower().removeprefix("v").split(".", 1)[0]
    if not head.isdigit() or int(head) < 1:
        return None
    return int(head)
