"""The emulator's settings: one dataclass shared by the Python API and the command line."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nim_emulator._cassette import Cassette
from nim_emulator._catalogue import DEFAULT_SELF_HOSTED_MODEL
from nim_emulator.exceptions import EmulatorConfigError
from nim_emulator.faults import FaultSpec

__all__ = ["EmulatorConfig"]


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
