"""Fixtures for reranking weaviate-client results: the NIM emulator on 127.0.0.1.

``reranker_nvidia.weaviate`` is imported here, before any test module imports
weaviate-client: it imports weaviate-client without the deprecation warning
that authlib shows on import (and ``filterwarnings = error`` would raise).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import reranker_nvidia.weaviate  # noqa: F401
from nim_emulator import EmulatorConfig, create_app, running_emulator

from ._support import KEY, Emulator


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    app = create_app(EmulatorConfig(api_key=KEY))
    with running_emulator(app=app) as base_url:
        yield Emulator(base_url, app.state.emulator)
