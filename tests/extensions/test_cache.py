"""``cache=``: a chunk's scores reused, keyed per chunk (D-EXT-CACHE)."""

from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator
from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client, ConfigError, Passage
from reranker_nvidia.errors import UpstreamError
from reranker_nvidia.extensions.cache import (
    MEMORY_ENTRIES,
    MemoryStore,
    SqliteStore,
    _decoded,
    _encoded,
    open_cache,
)
from tests.extensions._support import BASE, Recorder, cfg, client

MODEL = "nvidia/llama-nemotron-rerank-1b-v2"
DOCUMENTS = ["Library hours 9-5.", "Cafeteria 8-8.", "Gym 6-10.", "The library lends films."]
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPgPAAEDAQA"
    "IicLsAAAAAElFTkSuQmCC"
)


def scores(result: Any) -> list[float]:
    return [s.score for s in result.document_scores]


# ---- the stores alone


def test_the_memory_store_is_an_lru_of_n_chunks() -> None:
    store = MemoryStore(2)
    store.put(b"a", b"1")
    store.put(b"b", b"2")
    assert store.get(b"a") == b"1"  # a is now the most recent
    store.put(b"c", b"3")
    assert (store.get(b"a"), store.get(b"b"), store.get(b"c")) == (b"1", None, b"3")
    assert len(store) == 2


def test_the_memory_store_is_safe_across_threads() -> None:
    store = MemoryStore(50)

    def work(k: int) -> None:
        for i in range(200):
            store.put(f"{k}-{i}".encode(), b"x")
            store.get(f"{k}-{i - 1}".encode())

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 50


def test_the_sqlite_store_evicts_the_oldest_and_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "cache.db")
    store = SqliteStore(path, entries=3)
    for name in "abcd":
        store.put(name.encode(), name.encode() * 2)
    assert len(store) == 3
    assert store.get(b"a") is None
    store.close()
    again = SqliteStore(path, entries=3)
    assert [again.get(n) for n in (b"b", b"c", b"d")] == [b"bb", b"cc", b"dd"]
    again.close()


def test_scores_are_stored_as_exact_floats() -> None:
    values = [0.1, -11.5, 1e-300, 3.141592653589793, -0.0]
    assert _decoded(_encoded(values), 5) == values
    assert _decoded(_encoded(values), 4) is None  # another chunk's length: not this chunk's
    assert _decoded(b"junk", 0) is None


def test_a_bad_spec_is_a_config_error_at_construction() -> None:
    for spec in ("disk", "memory:0", "memory:x", "sqlite:", 3):
        with pytest.raises(ConfigError, match="cache must be memory"):
            Client("k", cache=spec)


def test_the_store_lives_for_the_clients_life_one_per_spec() -> None:
    with Client("k") as c:
        first = open_cache(c, "memory:5")
        assert open_cache(c, "memory:5") is first
        assert open_cache(c, "memory:6") is not first
    assert MEMORY_ENTRIES == 10_000


# ---- through the clients, on the emulator


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[str, Any]]:
    app = create_app(EmulatorConfig(include_usage=True))
    with running_emulator(app=app) as base:
        yield base, app.state.emulator


@pytest.fixture
def served(_server: tuple[str, Any]) -> tuple[str, Any]:
    base, state = _server
    state.clear_faults()
    state.reset()
    return base, state


def settings(base: str, **more: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": base, "model": MODEL, **more})


def posts(state: Any) -> int:
    return len([r for r in state.requests if r.method == "POST"])


def test_a_hit_sends_nothing_and_returns_the_misses_scores(served: tuple[str, Any]) -> None:
    base, state = served
    with Client("k", endpoint="ranking", cache="memory", usage=True, max_documents=3) as c:
        miss = c.rank("library", DOCUMENTS, settings(base))
        assert posts(state) == 2
        hit = c.rank("library", DOCUMENTS, settings(base))
    assert posts(state) == 2
    assert scores(hit) == scores(miss)
    assert [s.document for s in hit.document_scores] == DOCUMENTS
    assert miss.usage is not None and hit.usage is not None
    assert (miss.usage.requests, miss.usage.cache_hits) == (2, 0)
    assert (hit.usage.requests, hit.usage.chunks, hit.usage.passages) == (0, 2, 4)
    assert (hit.usage.cache_hits, hit.usage.total_tokens) == (2, None)


def test_async_a_hit_sends_nothing(served: tuple[str, Any]) -> None:
    base, state = served

    async def main() -> tuple[Any, Any]:
        async with AsyncClient("k", endpoint="ranking", cache="memory", usage=True) as c:
            miss = await c.rank("library", DOCUMENTS, settings(base))
            hit = await c.rank("library", DOCUMENTS, settings(base))
            return miss, hit

    miss, hit = anyio.run(main)
    assert posts(state) == 1
    assert scores(hit) == scores(miss)
    assert hit.usage.cache_hits == 1 and hit.usage.requests == 0


def test_a_changed_chunk_is_sent_its_unchanged_neighbour_is_not(
    served: tuple[str, Any],
) -> None:
    base, state = served
    with Client("k", endpoint="ranking", cache="memory", usage=True, max_documents=2) as c:
        c.rank("library", DOCUMENTS, settings(base))
        changed = [*DOCUMENTS[:2], "Pool 7-7.", DOCUMENTS[3]]
        result = c.rank("library", changed, settings(base))
    assert posts(state) == 3
    assert result.usage is not None
    assert (result.usage.requests, result.usage.cache_hits) == (1, 1)


def test_errors_are_not_cached(served: tuple[str, Any]) -> None:
    base, state = served
    state.add_fault("status=500,count=1")
    with Client("k", endpoint="ranking", cache="memory") as c:
        with pytest.raises(UpstreamError):
            c.rank("library", DOCUMENTS, settings(base))
        result = c.rank("library", DOCUMENTS, settings(base))
        c.rank("library", DOCUMENTS, settings(base))
    assert posts(state) == 2  # the failure, then one success; the third call is a hit
    assert all(isinstance(s, float) for s in scores(result))


def test_a_cache_as_a_class_setting(served: tuple[str, Any]) -> None:
    base, state = served
    with Client("k", endpoint="ranking") as c:
        first = c.rank("library", DOCUMENTS, settings(base, cache="memory"))
        second = c.rank("library", DOCUMENTS, settings(base, cache="memory"))
        c.rank("library", DOCUMENTS, settings(base))  # no cache: sent
    assert scores(first) == scores(second)
    assert posts(state) == 2


def test_the_sqlite_store_survives_a_new_client(served: tuple[str, Any], tmp_path: Path) -> None:
    base, state = served
    spec = f"sqlite:{tmp_path / 'scores.db'}"
    with Client("k", endpoint="ranking", cache=spec) as c:
        miss = c.rank("library", DOCUMENTS, settings(base))
    del c

    async def main() -> Any:
        async with AsyncClient("k", endpoint="ranking", cache=spec, usage=True) as again:
            return await again.rank("library", DOCUMENTS, settings(base))

    hit = anyio.run(main)
    assert posts(state) == 1
    assert scores(hit) == scores(miss)
    assert hit.usage.cache_hits == 1


def test_an_unwritable_store_warns_once_and_the_call_still_ranks(
    served: tuple[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base, state = served
    spec = f"sqlite:{tmp_path / 'missing-dir' / 'scores.db'}"
    with (
        caplog.at_level(logging.WARNING, "reranker_nvidia"),
        Client("k", endpoint="ranking", cache=spec) as c,
    ):
        first = c.rank("library", DOCUMENTS, settings(base))
        second = c.rank("library", DOCUMENTS, settings(base))
    assert scores(first) == scores(second)
    assert posts(state) == 2  # nothing was cached
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert warned[0].getMessage().startswith(f"cache {spec} not used: ")


def test_a_read_only_store_warns_and_still_ranks(
    served: tuple[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base, _ = served

    class ReadOnly:
        def get(self, key: bytes) -> bytes | None:
            return None

        def put(self, key: bytes, value: bytes) -> None:
            raise PermissionError("read-only")

    with (
        caplog.at_level(logging.WARNING, "reranker_nvidia"),
        Client("k", endpoint="ranking", cache=ReadOnly()) as c,
    ):
        result = c.rank("library", DOCUMENTS, settings(base))
    assert len(scores(result)) == 4
    assert [r.getMessage() for r in caplog.records] == ["cache ReadOnly not used: read-only"]


# ---- the key: what decides a chunk's scores


class Store:
    """A caller's store: a dict, and the keys asked for."""

    def __init__(self) -> None:
        self.items: dict[bytes, bytes] = {}
        self.asked: list[bytes] = []

    def get(self, key: bytes) -> bytes | None:
        self.asked.append(key)
        return self.items.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.items[key] = value


def _keys(**call: Any) -> list[bytes]:
    store = Store()
    recorder = Recorder()
    with client(recorder, cache=store, endpoint=call.pop("endpoint", "ranking")) as c:
        c.rank(
            call.pop("query", "q"),
            call.pop("documents", ["a", "b"]),
            cfg(**call.pop("settings", {})),
            headers=call.pop("headers", None),
        )
    assert not call
    return store.asked


def test_the_key_is_a_sha256_of_the_chunk() -> None:
    keys = _keys()
    assert len(keys) == 1 and len(keys[0]) == 32
    assert _keys() == keys  # the same chunk, the same key


@pytest.mark.parametrize(
    "change",
    [
        {"query": "other"},
        {"settings": {"model": "other-model"}},
        {"settings": {"truncate": "END"}},
        {"settings": {"baseURL": "http://other.test"}},
        {"headers": [("X-Nvidia-Baseurl", "http://other.test")]},
        {"endpoint": "model"},
        {"documents": ["b", "a"]},
        {"documents": ["a", "b", "c"]},
        {"documents": ["a", Passage(text="b")]},
        {"documents": ["a", Passage(text="b", image=PNG)]},
    ],
    ids=lambda change: next(iter(change)) + ":" + repr(next(iter(change.values())))[:20],
)
def test_the_key_changes_with_what_decides_the_scores(change: dict[str, Any]) -> None:
    assert _keys(**change) != _keys()


def test_the_key_does_not_hold_the_api_key() -> None:
    store = Store()
    with client(Recorder(), cache=store) as c:
        c.rank("q", ["a"], cfg())
    with Client("another", transport=httpx.MockTransport(Recorder()), cache=store) as c:
        c.rank("q", ["a"], cfg())
    assert store.asked[0] == store.asked[1]
    assert len(store.items) == 1


def test_a_callers_store_is_used_with_passages() -> None:
    store = Store()
    recorder = Recorder()
    documents = [Passage(text="a", image=PNG), "b"]
    with client(recorder, cache=store, endpoint="ranking") as c:
        miss = c.rank("q", documents, cfg())
        hit = c.rank("q", documents, cfg())
    assert len(recorder.requests) == 1
    assert hit.document_scores == miss.document_scores
    assert [s.document for s in hit.document_scores] == ["a", "b"]


def test_without_a_cache_nothing_is_asked() -> None:
    recorder = Recorder()
    with client(recorder) as c:
        c.rank("q", ["a"], cfg())
        c.rank("q", ["a"], cfg())
    assert len(recorder.requests) == 2
    assert BASE.startswith("http://")


# ---- pickling


def test_a_client_with_a_cache_spec_pickles(tmp_path: Path) -> None:
    spec = f"sqlite:{tmp_path / 'p.db'}"
    with Client("k", cache=spec) as c:
        copy = pickle.loads(pickle.dumps(c))
    assert copy.extensions["cache"] == spec
    copy.close()


def test_a_client_with_an_unpicklable_store_says_so() -> None:
    class Local:
        lock = threading.Lock()

        def get(self, key: bytes) -> bytes | None:
            return None

        def put(self, key: bytes, value: bytes) -> None:
            pass

    with Client("k", cache=Local()) as c, pytest.raises(TypeError) as caught:
        pickle.dumps(c)
    assert str(caught.value).startswith("cannot pickle Client: its cache store Local")
