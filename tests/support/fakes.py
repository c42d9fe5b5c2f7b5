"""Fakes shared by the tests: Go's ``fakeClassConfig`` and ``fakeRankClient``, and a clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from reranker_nvidia._gostd.context import HeaderSource
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.errors import RerankerError
from reranker_nvidia.modulecomponents.ent.rank_result import DocumentScore, RankResult


class FakeClassConfig:
    """Go's ``fakeClassConfig``: the same map for ``Class()`` and ``ClassByModuleName()``."""

    def __init__(self, class_config: Mapping[str, Any] | None = None) -> None:
        self.class_config: Mapping[str, Any] = class_config if class_config is not None else {}

    def class_(self) -> Mapping[str, Any]:
        return self.class_config

    def class_by_module_name(self, module_name: str) -> Mapping[str, Any]:
        del module_name
        return self.class_config

    def property(self, prop_name: str) -> Mapping[str, Any]:
        del prop_name
        return {}

    def tenant(self) -> str:
        return ""

    def target_vector(self) -> str:
        return ""

    def properties_data_types(self) -> Mapping[str, str]:
        return {}

    def config(self) -> Any:
        return None


class RankCall(NamedTuple):
    """One call a :class:`FakeRankClient` received."""

    query: str
    documents: list[str]
    cfg: ClassConfig | None
    headers: HeaderSource


Scores = float | Mapping[str, float] | Callable[[int, str], float]


def by_position(index: int, document: str) -> float:
    """Score the i-th document ``i``: the last one ranks first."""
    del document
    return float(index)


class FakeRankClient:
    """A rerank client (Go's consumer-side ``ReRankerClient``) that records every call.

    With no arguments it is Go's ``fakeRankClient`` (rank_test.go): the query
    ``"unavailable"`` fails with the error ``unavailable``, any other query scores 0.15.
    (Go's returns a score for ``documents[0]`` only; every Go case ranks one document.)

    ``scores`` says how documents score: one number for all, a table (a document not in
    it scores 0.0), or a function of the document's index and text (:func:`by_position`).
    ``short=True`` returns one score fewer than documents (a broken client);
    ``error`` is raised by every call.
    """

    def __init__(
        self, scores: Scores = 0.15, *, short: bool = False, error: Exception | None = None
    ) -> None:
        self.scores = scores
        self.short = short
        self.error = error
        self.calls: list[RankCall] = []

    def rank(
        self,
        query: str,
        documents: Iterable[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> RankResult:
        docs = list(documents)
        self.calls.append(RankCall(query, docs, cfg, headers))
        if self.error is not None:
            raise self.error
        if query == "unavailable":
            raise RerankerError("unavailable")
        scored = [
            DocumentScore(document, self._score(i, document)) for i, document in enumerate(docs)
        ]
        return RankResult(query, scored[:-1] if self.short else scored)

    def _score(self, index: int, document: str) -> float:
        if isinstance(self.scores, int | float):
            return float(self.scores)
        if isinstance(self.scores, Mapping):
            return self.scores.get(document, 0.0)
        return self.scores(index, document)


class AsyncFakeRankClient:
    """:class:`FakeRankClient` behind an ``async def rank`` (for ``AsyncReRankerProvider``)."""

    def __init__(
        self, scores: Scores = 0.15, *, short: bool = False, error: Exception | None = None
    ) -> None:
        self.fake = FakeRankClient(scores, short=short, error=error)

    @property
    def calls(self) -> list[RankCall]:
        return self.fake.calls

    async def rank(
        self,
        query: str,
        documents: Iterable[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> RankResult:
        return self.fake.rank(query, documents, cfg, headers=headers)


def rankings(*pairs: tuple[int, float]) -> dict[str, Any]:
    """A 200 body: ``{"rankings": [{"index": i, "logit": x}, …]}``."""
    return {"rankings": [{"index": index, "logit": logit} for index, logit in pairs]}


class FakeTime:
    """A clock that moves only when the code under test sleeps; records every sleep.

    ``clock``, ``sleep`` and ``asleep`` are what the retry policy, the limiter and the
    wait for readiness take instead of ``time.monotonic``, ``time.sleep`` and ``anyio.sleep``.
    """

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
