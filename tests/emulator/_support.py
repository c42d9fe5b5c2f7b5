"""Shared helpers of the emulator tests: request bodies, the ``Emu`` handle, capture paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from nim_emulator import EmulatorState

CAPTURES = Path(__file__).resolve().parents[2] / "contracts" / "captures"
KEY = "nvapi-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
GENERIC = "/v1/retrieval/nvidia/reranking"
NEMOTRON = "/v1/retrieval/nvidia/llama-nemotron-rerank-1b-v2/reranking"


def body(
    model: str = "nvidia/rerank-qa-mistral-4b",
    query: str = "which way should i go",
    passages: tuple[str, ...] = ("a way to go", "nothing here", "go go go the way"),
    **extra: Any,
) -> dict[str, Any]:
    """A valid reranking body."""
    return {
        "model": model,
        "query": {"text": query},
        "passages": [{"text": p} for p in passages],
        **extra,
    }


@dataclass
class Emu:
    """One running emulator and an httpx client pointed at it."""

    mode: str
    app: Starlette
    client: httpx.AsyncClient

    @property
    def state(self) -> EmulatorState:
        state: EmulatorState = self.app.state.emulator
        return state

    async def rank(self, path: str = GENERIC, **kwargs: Any) -> httpx.Response:
        """POST a valid body (``body(**kwargs)``) with the test key."""
        return await self.client.post(path, json=body(**kwargs), headers=AUTH)


EmuFactory = Callable[..., Awaitable[Emu]]


def capture_lines(data: bytes) -> list[str]:
    """The lines of a capture file that are not ``#`` comments."""
    return [line for line in data.decode().splitlines() if line and not line.startswith("#")]
