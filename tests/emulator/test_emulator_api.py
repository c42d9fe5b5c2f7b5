"""The public API of nim_emulator: exported names and configuration checks."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest
from starlette.applications import Starlette

import nim_emulator as emulator
from nim_emulator import (
    EmulatorConfig,
    EmulatorConfigError,
    EmulatorError,
    EmulatorState,
    create_app,
)


def isort_key(name: str) -> tuple[int, str]:
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return group, name


def test_all_is_sorted_and_every_name_exists() -> None:
    assert emulator.__all__ == sorted(emulator.__all__, key=isort_key)
    assert len(set(emulator.__all__)) == len(emulator.__all__)
    for name in emulator.__all__:
        assert getattr(emulator, name) is not None


def test_the_names_the_brief_requires_are_exported() -> None:
    required = {
        "EmulatorConfig",
        "create_app",
        "running_emulator",
        "serve",
        "load_cassette",
        "FaultSpec",
    }
    assert required <= set(emulator.__all__)


def test_create_app_exposes_its_state() -> None:
    app = create_app()
    assert isinstance(app, Starlette)
    state = app.state.emulator
    assert isinstance(state, EmulatorState)
    assert state.config == EmulatorConfig()
    assert state.requests == []
    assert state.cassette is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latency_ms": -1}, "latency_ms must be a finite number >= 0"),
        ({"jitter_ms": math.inf}, "jitter_ms must be a finite number >= 0"),
        ({"latency_ms": True}, "latency_ms must be a finite number >= 0"),
        ({"self_hosted_model": ""}, "self_hosted_model must be a model id of 1-128 characters"),
        ({"api_key": ""}, "api_key must be a non-empty string or None"),
        ({"now": datetime(2026, 1, 1)}, "now must be timezone-aware"),
        ({"faults": ["status=500"]}, "faults must hold FaultSpec values"),
    ],
)
def test_bad_config_values_raise_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(EmulatorConfigError) as info:
        EmulatorConfig(**kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, EmulatorError)
    assert isinstance(info.value, ValueError)
