"""A cache keyed per chunk: ``cache="memory"``, ``"memory:N"``, ``"sqlite:PATH"`` (D-EXT-CACHE).

Python only. Go sends every chunk every time. With ``cache`` set, a chunk
whose scores a store holds is answered from it and nothing is sent for it;
a chunk the store lacks is sent, and its scores are stored once it succeeds.
An error is never stored.

The key is the SHA-256 of what decides a chunk's scores: the ``endpoint``
setting, the base URL as given (the ``X-Nvidia-Baseurl`` header over the class
setting, before any check), the model, ``truncate``, the query, and the
chunk's texts and images in order. A chunk's scores depend on its
composition (NIM scores the passages of one request together, and
``maxDocuments`` decides which documents share a request), so the key is per
chunk, not per document. The key holds neither the API key nor anything
else secret; the value is the chunk's scores as 64-bit floats, so a hit
returns exactly the scores its miss returned.

The stores:

- ``memory`` / ``memory:N``: an LRU of at most N chunks (10 000 by default),
  thread-safe, kept for the client's life.
- ``sqlite:PATH``: the standard library's ``sqlite3``, at most 100 000
  chunks, the oldest evicted first. Chosen because it adds no dependency,
  survives a restart, and is safe across threads and processes: one
  connection per store behind a lock (a sync client's chunk threads and an
  async client's tasks share it), the file in WAL mode so that readers in
  other processes (a bulk run's workers) do not block a writer. Each put is
  committed at once; the connection is closed when the client is
  garbage-collected or at exit.
- any object with ``get(key: bytes) -> bytes | None`` and
  ``put(key: bytes, value: bytes)``, from Python (a Redis wrapper, say).

A store that cannot be opened, read or written (a path in a directory that
does not exist, a read-only file, a full disk, an object whose ``get`` or
``put`` raises) does not fail the call: the call goes on without the store,
and one ``WARNING`` line naming the store and the reason goes to the
``reranker_nvidia`` logger, once per store and client; the store is then
left alone for the client's life. A bad spec is a :class:`ConfigError` when
the client is built (``extensions/settings.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import struct
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from ..clients.ranker import BASE_URL_HEADER, RankFlow, _Call, _Client
from ..config.class_settings import ClassSettings
from ..modulecomponents.ent.rank_result import DocumentScore
from ..modulecomponents.header_values import get_value_from_context
from .images import passage_text
from .usage import Tally

__all__ = [
    "MEMORY_ENTRIES",
    "SQLITE_ENTRIES",
    "MemoryStore",
    "SqliteStore",
    "Store",
    "cache_key",
    "cached",
    "open_cache",
]

LOGGER = logging.getLogger("reranker_nvidia")

MEMORY_ENTRIES = 10_000
"""Chunks ``cache="memory"`` keeps."""

SQLITE_ENTRIES = 100_000
"""Chunks ``cache="sqlite:PATH"`` keeps; past it the oldest are evicted."""

_KEY_VERSION = "reranker-nvidia chunk cache 1"
_MAGIC = b"RNC1"


class Store(Protocol):
    """What a cache is: a ``get`` and a ``put`` of bytes by bytes."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...


class MemoryStore:
    """An LRU of at most ``entries`` chunks, shared by threads and tasks."""

    def __init__(self, entries: int = MEMORY_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)


class SqliteStore:
    """A file of at most ``entries`` chunks, the oldest evicted first; one connection, locked."""

    def __init__(self, path: str, entries: int = SQLITE_ENTRIES) -> None:
        self.path = path
        self.entries = entries
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._size = 0
        """At least the rows the file holds; counted again when it passes ``entries``."""

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA busy_timeout=5000")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS chunks (key BLOB PRIMARY KEY, value BLOB NOT NULL)"
                )
                self._size = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def __len__(self) -> int:
        with self._lock:
            count: int = self._open().execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            return count

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            row = self._open().execute("SELECT value FROM chunks WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, key: bytes, value: bytes) -> None:
        with self._lock:
            db = self._open()
            # A replaced row gets a new rowid: rowid order is the order of the puts.
            db.execute("INSERT OR REPLACE INTO chunks (key, value) VALUES (?, ?)", (key, value))
            self._size += 1
            if self._size > self.entries:
                self._size = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
                excess = self._size - self.entries
                if excess > 0:
                    db.execute(
                        "DELETE FROM chunks WHERE rowid IN "
                        "(SELECT rowid FROM chunks ORDER BY rowid LIMIT ?)",
                        (excess,),
                    )
                    self._size = self.entries

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class _Guarded:
    """A store whose first failure is logged once and turns it off for the client's life."""

    def __init__(self, store: Any, name: str) -> None:
        self.store = store
        self.name = name
        self.broken = False
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        if self.broken:
            return None
        try:
            value = self.store.get(key)
        except Exception as err:  # noqa: BLE001 - a store's failure never fails the call
            self._failed(err)
            return None
        return bytes(value) if isinstance(value, bytes | bytearray) else None

    def put(self, key: bytes, value: bytes) -> None:
        if self.broken:
            return
        try:
            self.store.put(key, value)
        except Exception as err:  # noqa: BLE001 - a store's failure never fails the call
            self._failed(err)

    def _failed(self, err: Exception) -> None:
        with self._lock:
            if self.broken:
                return
            self.broken = True
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        LOGGER.warning("cache %s not used: %s", self.name, reason)


_OPEN_LOCK = threading.Lock()


def open_cache(client: _Client, spec: Any) -> _Guarded:
    """The store ``spec`` names, opened once for ``client``'s life (a file: on first use)."""
    name = spec if isinstance(spec, str) else f"object {id(spec)}"
    state_key = f"cache {name}"
    with _OPEN_LOCK:
        store = client.extension_state.get(state_key)
        if store is None:
            store = _Guarded(_store(spec), spec if isinstance(spec, str) else type(spec).__name__)
            if isinstance(store.store, SqliteStore):
                weakref.finalize(client, store.store.close)
            client.extension_state[state_key] = store
    assert isinstance(store, _Guarded)
    return store


def _store(spec: Any) -> Any:
    if not isinstance(spec, str):
        return spec  # an object with get and put, checked by the settings table
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SqliteStore(rest)
    return MemoryStore(int(rest) if rest else MEMORY_ENTRIES)


def cache_key(call: _Call, chunk: Sequence[Any], endpoint: str, truncate: str | None) -> bytes:
    """The SHA-256 of what decides ``chunk``'s scores (the module docstring says what)."""
    settings = ClassSettings(call.cfg)
    base_url = get_value_from_context(call.headers, BASE_URL_HEADER) or settings.base_url()
    items = [
        d if isinstance(d, str) else [getattr(d, "text", None), getattr(d, "image", None)]
        for d in chunk
    ]
    what = [_KEY_VERSION, endpoint, base_url, settings.model(), truncate, call.query, items]
    text = json.dumps(what, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def cached(
    flow: RankFlow, cache: Store, key: bytes, chunk: Sequence[Any], tally: Tally | None
) -> RankFlow:
    """``flow``, answered from ``cache`` when it holds ``key``; its scores stored on success."""
    scores = _decoded(cache.get(key), len(chunk))
    if scores is not None:
        flow.close()
        if tally is not None:
            tally.chunk(len(chunk), None, cached=True)
        return [DocumentScore(passage_text(d), s) for d, s in zip(chunk, scores, strict=True)]
    result = yield from flow
    got = [s.score for s in result]
    sure = [float(s) for s in got if isinstance(s, int | float) and not isinstance(s, bool)]
    if len(sure) == len(got):
        cache.put(key, _encoded(sure))
    return result


def _encoded(scores: Sequence[float]) -> bytes:
    return _MAGIC + struct.pack(f"<{len(scores)}d", *scores)


def _decoded(value: bytes | None, count: int) -> list[float] | None:
    """The scores ``value`` holds for ``count`` passages; ``None`` for anything else."""
    if value is None or len(value) != len(_MAGIC) + 8 * count or not value.startswith(_MAGIC):
        return None
    return list(struct.unpack(f"<{count}d", value[len(_MAGIC) :]))
