"""With retries on, a transient fault never changes the scores, only the number of requests.

Runs the real client against the emulator on a loopback socket: a fault
``status=503,count=k``, ``status=429,count=k`` or ``drop,count=k`` with
``k <= retries`` is armed, and the scores must be those of a run with no
fault, after exactly ``k + 1`` requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import ClassBasedModuleConfig, Client
from tests.property._support import PROPERTY

emulator = pytest.importorskip("nim_emulator")

KEY = "property-key"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Any]]:
    app = emulator.create_app(emulator.EmulatorConfig(api_key=KEY))
    with emulator.running_emulator(app=app) as base_url:
        yield base_url, app.state.emulator


words = st.text(alphabet="abcdefgh ", min_size=1, max_size=20).filter(str.strip)


@st.composite
def retries_and_faults(draw: st.DrawFn) -> tuple[int, int]:
    """``(retries, k)`` with ``k <= retries``: every fault can be outlasted."""
    retries = draw(st.integers(min_value=1, max_value=2))
    return retries, draw(st.integers(min_value=0, max_value=retries))


def scores(base_url: str, query: str, documents: list[str], retries: int) -> list[float]:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": base_url, "retries": retries})
    # A fresh client per run: every first attempt goes out on a new connection, so the
    # retry transport's own resends (pooled connections only) never hide a fault.
    with Client(KEY, 20) as client:
        result = client.rank(query, documents, cfg)
    return [s.score for s in result.document_scores]


@settings(PROPERTY, max_examples=12)
@given(
    query=words,
    documents=st.lists(words, min_size=1, max_size=4),
    counts=retries_and_faults(),
    fault=st.sampled_from(["status=503,retry-after=0", "status=429,retry-after=0", "drop"]),
)
def test_a_transient_fault_changes_only_the_number_of_requests(
    served: tuple[str, Any], query: str, documents: list[str], counts: tuple[int, int], fault: str
) -> None:
    base_url, state = served
    retries, k = counts
    state.reset()
    clean = scores(base_url, query, documents, 0)
    assert len(state.requests) == 1

    state.reset()
    if k:  # count=0 is no fault at all (and no valid spec)
        state.add_fault(f"{fault},count={k}")
    assert scores(base_url, query, documents, retries) == clean
    assert len(state.requests) == k + 1
