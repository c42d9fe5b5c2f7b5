"""Shared settings, strategies and fake servers of the property tests.

Every fake server is an ``httpx.MockTransport``: requests never leave the
process and no socket is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import string
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from unittest import mock

import httpx
from hypothesis import settings
from hypothesis import strategies as st

PROPERTY = settings(
    derandomize=True,  # the same examples on every run and every machine (CI)
    database=None,  # no .hypothesis/ directory, no replay of old failures
    deadline=None,  # timing is checked explicitly where it matters (see time_limit)
    print_blob=False,
)
"""The parent of every test's settings; each test sets its own ``max_examples``."""

RERANKING_PATH = "/v1/retrieval/nvidia/reranking"
DEFAULT_URL = "https://ai.api.nvidia.com" + RERANKING_PATH

# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------

finite_floats = st.floats(allow_nan=False, allow_infinity=False)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    finite_floats,
    st.text(max_size=12),
)


small_json = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(
        st.text(max_size=4), st.one_of(json_scalars, st.lists(json_scalars, max_size=2)), max_size=3
    ),
)
"""A cheap JSON value at most two levels deep (for tests that need many of them)."""


def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value (no NaN or infinity), nested a few levels at most."""
    return st.recursive(
        json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def letter_casings(draw: st.DrawFn, name: str) -> str:
    """``name`` with each ASCII letter in upper or lower case, as Hypothesis picks."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if up else c.lower() for c, up in zip(name, flips, strict=True))


# --------------------------------------------------------------------------
# Fake servers
# --------------------------------------------------------------------------


def json_response(status: int, value: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(value).encode(),
        headers={"content-type": "application/json", **headers},
    )


def stable_score(query: str, text: str) -> float:
    """A score that depends only on the query and the passage text (never on chunking)."""
    digest = hashlib.blake2b(
        json.dumps([query, text]).encode(), digest_size=8, person=b"prop-test"
    ).digest()
    return int.from_bytes(digest, "big") / 2**64 * 40.0 - 20.0


class Recorder:
    """A thread-safe fake NVIDIA endpoint: records each request body, answers via ``answer``."""

    def __init__(self, answer: Callable[[dict[str, Any]], httpx.Response]) -> None:
        self._answer = answer
        self._lock = threading.Lock()
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.requests.append(request)
            self.bodies.append(body)
        return self._answer(body)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def scoring_server() -> Recorder:
    """Scores every passage with :func:`stable_score`, answering in reverse index order."""

    def answer(body: dict[str, Any]) -> httpx.Response:
        query = body["query"]["text"]
        rankings = [
            {"index": i, "logit": stable_score(query, passage["text"])}
            for i, passage in enumerate(body["passages"])
        ]
        return json_response(200, {"rankings": rankings[::-1]})

    return Recorder(answer)


def table_server(logits: Sequence[float], order: Sequence[int]) -> Recorder:
    """Gives passage ``i`` the score ``logits[i]``, listing the rankings in ``order``."""

    def answer(body: dict[str, Any]) -> httpx.Response:
        assert len(body["passages"]) == len(logits)
        return json_response(200, {"rankings": [{"index": i, "logit": logits[i]} for i in order]})

    return Recorder(answer)


# --------------------------------------------------------------------------
# Environment and time
# --------------------------------------------------------------------------


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for one Hypothesis example (not the whole test)."""
    with mock.patch.dict(os.environ, values):
        yield


class TimeLimitExceededError(AssertionError):
    """The code under test ran past its time budget (a hang, or a blow-up)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the main thread after ``seconds`` (SIGALRM), failing the example."""

    def expire(signum: int, frame: object) -> None:
        del signum, frame
        raise TimeLimitExceededError(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------
# Comparing JSON values exactly
# --------------------------------------------------------------------------


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (``1`` is not ``1.0`` nor ``True``; ``-0.0`` is kept)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    return bool(a == b)


PRINTABLE_NO_SPACE = "".join(c for c in string.printable if not c.isspace())
