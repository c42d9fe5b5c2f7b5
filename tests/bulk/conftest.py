"""The bulk tests' emulator (on loopback, one per module) and tables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator


@dataclass
class Emulator:
    url: str
    state: Any

    def fault(self, spec: str) -> None:
        self.state.add_fault(spec)

    @property
    def requests(self) -> list[Any]:
        return [r for r in self.state.requests if r.method == "POST"]


@pytest.fixture(scope="module")
def _emulator_server() -> Iterator[Emulator]:
    app = create_app(EmulatorConfig())
    with running_emulator(app=app) as url:
        yield Emulator(url, app.state.emulator)


@pytest.fixture
def emulator(_emulator_server: Emulator) -> Emulator:
    """The module's emulator, its log emptied and its faults disarmed for each test."""
    _emulator_server.state.clear_faults()
    _emulator_server.state.reset()
    return _emulator_server


def table(queries: int, passages: int | list[int], *, start: int = 0) -> list[dict[str, Any]]:
    """A long-form table: ``passages`` rows per query (a list: per query), ids q000…, p0…."""
    counts = passages if isinstance(passages, list) else [passages] * queries
    return [
        {
            "query_id": f"q{q:03d}",
            "query": f"what does the library lend on day {q}",
            "passage_id": f"p{p}",
            "passage": f"the library lends {'books' if p % 3 else 'films'} on day {p % 7} ({q})",
        }
        for q in range(start, start + queries)
        for p in range(counts[q - start])
    ]
