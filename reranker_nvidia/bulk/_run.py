"""The bulk runs: groups sent a few at a time through one client, written back in input order.

The synchronous run keeps ``concurrency`` groups in flight on daemon threads
and hands the scored groups back in input order, at most ``2 × concurrency``
ahead of the caller; stopping it (Ctrl-C, ``close()``) sends nothing more, and
the requests in flight are abandoned, never awaited. The asynchronous run does
the same on anyio tasks, a window of groups at a time. Both read the rows the
same way (``_Settings.groups``), so they group, number and refuse rows alike.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import threading
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import anyio
import httpx

from reranker_nvidia.bulk._columnar import USAGE_COLUMNS, Extra
from reranker_nvidia.bulk._config import ClientConfig
from reranker_nvidia.bulk._formats import TableRows
from reranker_nvidia.bulk._groups import (
    ERROR,
    BulkInputError,
    BulkStoppedError,
    Columns,
    Group,
    Grouper,
    Row,
    ScoredGroup,
    Where,
    error_kind,
    failed,
    not_reranked,
    row_label,
    scored,
)
from reranker_nvidia.clients.ranker import AsyncClient, Client
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.errors import (
    BaseURLError,
    ConfigError,
    InvalidPassageError,
    MissingAPIKeyError,
    RequestBuildError,
    RerankerError,
)
from reranker_nvidia.extensions.settings import call_settings
from reranker_nvidia.modulecomponents.ent.rank_result import RankResult, Usage

DEFAULT_COLUMNS = Columns()
DEFAULT_CONCURRENCY = 16
"""Queries in flight by default: a bulk job waits on the network, not on this machine's CPUs
(docs/bulk.md says how it was chosen)."""

_T = TypeVar("_T")

Source = Iterable[Any]
"""Rows (mappings), Arrow record batches or tables, or pandas data frames — or a mix."""

_Outcome = RankResult | RerankerError | ScoredGroup
"""What a group came to: its result, its error, or its output rows (carried over, a bad cell)."""

Carried = Callable[[str, list[Row]], list[Row] | None]
"""``(query id, the query's input rows)`` → its output rows from an earlier run, or ``None``."""


@dataclass(slots=True)
class ErrorCount:
    """One kind of failure in a run: how many groups had it, its first message and hint."""

    kind: str
    groups: int
    message: str
    hint: str | None


@dataclass(slots=True)
class BulkSummary:
    """What a run did; up to date after each group."""

    rows: int = 0
    """Rows written: scored and failed (not those carried over from an earlier output)."""
    groups: int = 0
    failed_groups: int = 0
    failed_rows: int = 0
    skipped_groups: int = 0
    """Groups not sent because the output has them already (resume)."""
    skipped_rows: int = 0
    not_reranked_groups: int = 0
    """Groups the client failed open on (``on_error="input_order"``, D-EXT-FAIL-OPEN): written
    in input order, unscored, each row with the error; not counted as failed."""
    not_reranked_rows: int = 0
    first_not_reranked: str | None = None
    """The error of the first group not reranked."""
    dropped_rows: int = 0
    """Rows left out because they scored below ``min_score`` (D-EXT-SCORES)."""
    requests: int = 0
    """Requests sent: every attempt, those that failed and retries included."""
    seconds: float = 0.0
    interrupted: bool = False
    stopped: bool = False
    """Stopped early: too many queries in a row failed with the same kind of error."""
    errors: dict[str, ErrorCount] = field(default_factory=dict)
    """The failures by kind (``UpstreamError 404``, ``BulkInputError``, …)."""
    failures_in_a_row: int = 0
    """Groups failed in a row with the same kind of error, up to the last one."""
    last_kind: str | None = None
    """The kind of the last group's failure; ``None`` once a group was scored."""
    usage: bool = False
    """Whether the groups reported their usage (``usage=True``, D-EXT-USAGE)."""
    cache_hits: int = 0
    """Chunks answered from the cache (``cache=``, D-EXT-CACHE): nothing was sent for them."""
    prompt_tokens: int | None = None
    """NIM's ``usage.prompt_tokens`` summed over the scored groups; ``None`` unless every
    answer that was sent carried it."""
    total_tokens: int | None = None
    """NIM's ``usage.total_tokens`` summed likewise."""
    tokens_unknown: bool = False
    """A group's answers carried no token counts: the sums stay ``None``."""

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """The run in one line."""
        text = (
            f"{self.rows} rows in {self.groups} groups, {self.failed_groups} groups failed "
            f"({self.failed_rows} rows), {self.requests} requests, "
            f"{self.seconds:.1f} s, {self.rows_per_second:.0f} rows/s"
        )
        if self.usage:
            tokens = (
                "no token counts" if self.total_tokens is None else f"tokens {self.total_tokens}"
            )
            text += f", {self.cache_hits} cache hits, {tokens}"
        if self.skipped_groups:
            text += f"; {self.skipped_groups} groups ({self.skipped_rows} rows) already written"
        if self.not_reranked_groups:
            text += (
                f"; {self.not_reranked_groups} groups ({self.not_reranked_rows} rows) "
                "not reranked, in input order"
            )
        if self.dropped_rows:
            text += f"; {self.dropped_rows} rows dropped below min_score"
        if self.stopped:
            text += "; stopped early"
        elif self.interrupted:
            text += "; interrupted"
        return text

    def common_error(self) -> ErrorCount | None:
        """The kind of failure most groups had (the first seen, on a tie); ``None``: no failure."""
        best: ErrorCount | None = None
        for count in self.errors.values():
            if best is None or count.groups > best.groups:
                best = count
        return best

    def add(self, group: ScoredGroup) -> None:
        if group.carried:
            self.skipped_groups += 1
            self.skipped_rows += len(group.rows)
            return
        self.rows += len(group.rows)
        self.groups += 1
        if group.usage is not None:
            self._count(group.usage)
        self.dropped_rows += group.dropped
        if not group.reranked:  # neither a failure nor a success: the streak stays as it was
            self.not_reranked_groups += 1
            self.not_reranked_rows += len(group.rows)
            if self.first_not_reranked is None and group.rows:
                self.first_not_reranked = str(group.rows[0][ERROR])
            return
        if group.error is None:
            self.failures_in_a_row = 0
            self.last_kind = None
            return
        self.failed_groups += 1
        self.failed_rows += len(group.rows)
        kind = group.kind or "error"
        count = self.errors.get(kind)
        if count is None:
            self.errors[kind] = ErrorCount(kind, 1, group.error, group.hint)
        else:
            count.groups += 1
        if kind == self.last_kind:
            self.failures_in_a_row += 1
        else:
            self.failures_in_a_row = 1
            self.last_kind = kind

    def _count(self, usage: Usage) -> None:
        """A group's usage: its cache hits, and its tokens while every group's answers had them."""
        self.usage = True
        self.cache_hits += usage.cache_hits
        if usage.chunks == usage.cache_hits:
            return  # nothing was answered by the service: no tokens, none missing
        if usage.prompt_tokens is None or usage.total_tokens is None:
            self.tokens_unknown = True
        if self.tokens_unknown:
            self.prompt_tokens = self.total_tokens = None
            return
        self.prompt_tokens = (self.prompt_tokens or 0) + (usage.prompt_tokens or 0)
        self.total_tokens = (self.total_tokens or 0) + (usage.total_tokens or 0)


def _stops_the_run(err: RerankerError) -> bool:
    """A failure that every group would have: it ends the run instead of failing each group."""
    if isinstance(err, InvalidPassageError):
        return False  # this group's passage
    return isinstance(err, ConfigError | MissingAPIKeyError | BaseURLError | RequestBuildError)


def one_line(message: str) -> str:
    return message.replace("\r", "\\r").replace("\n", "\\n")


def source_items(source: Source) -> Iterator[Mapping[str, object] | Any]:
    """Every row (a mapping) or Arrow record batch of ``source``, read one at a time.

    Arrow stays Arrow: a Parquet or Arrow file (:func:`read_rows`), a table or a record
    batch comes as record batches; pandas data frames come as rows.
    """
    if isinstance(source, TableRows):
        yield from source.items()
        return
    for item in source:
        if isinstance(item, Mapping):
            yield item
        elif hasattr(item, "to_batches"):  # a pyarrow Table
            yield from item.to_batches()
        elif hasattr(item, "schema") and hasattr(item, "num_rows"):  # a pyarrow RecordBatch
            yield item
        elif hasattr(item, "to_dict") and hasattr(item, "columns"):  # a pandas DataFrame
            yield from item.to_dict("records")
        else:
            raise TypeError(
                "rerank_table reads mappings, Arrow record batches or tables, or pandas "
                f"data frames, not {type(item).__name__}"
            )


class _RequestCounter:
    """Counts the requests a client sends (an httpx event hook), while a run lasts."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> None:
        with self._lock:
            self.count += 1

    async def asynchronous(self, request: httpx.Request) -> None:
        self(request)

    def attach(self, http: httpx.Client | httpx.AsyncClient) -> None:
        hook = self.asynchronous if isinstance(http, httpx.AsyncClient) else self
        hooks = http.event_hooks
        http.event_hooks = {**hooks, "request": [*hooks.get("request", []), hook]}

    def detach(self, http: httpx.Client | httpx.AsyncClient) -> None:
        hooks = http.event_hooks
        kept = [h for h in hooks.get("request", []) if h not in (self, self.asynchronous)]
        http.event_hooks = {**hooks, "request": kept}


class _Settings:
    """What every group of a run shares: where to send, how, what to skip or carry over."""

    def __init__(
        self,
        config: ClientConfig | None,
        columns: Columns,
        skip: Collection[str],
        on_group: Callable[[ScoredGroup, BulkSummary], None] | None,
        *,
        carried: Carried | None = None,
        stop_after: int | None = None,
    ) -> None:
        if stop_after is not None and stop_after < 0:
            raise ConfigError(f"stop_after must be 0 (never) or more, not {stop_after}")
        self.config = config or ClientConfig()
        self.usage = bool(self.config.usage)
        """The output rows carry their query's token counts (D-EXT-USAGE)."""
        self.cfg: ClassConfig | None = self.config.class_config()
        self.columns = columns
        self.skip = skip
        self.on_group = on_group
        self.carried = carried
        self.stop_after = stop_after or None
        self.summary = BulkSummary()
        self.requests = _RequestCounter()
        self.where: Where = row_label
        self._grouper: Grouper | None = None

    def read_from(self, source: object) -> None:
        """Name rows as ``source`` does (a file's lines), if it can."""
        where = getattr(source, "where", None)
        if callable(where):
            self.where = where

    def chunk_size(self, client_max_documents: int) -> int:
        """The passages per request ``Client.rank`` uses: a class setting wins, as there."""
        settings = call_settings({"max_documents": client_max_documents}, self.cfg)
        return int(settings["max_documents"])

    def grouper(self) -> Grouper:
        """The run's one grouper: it numbers the rows, and knows the queries read."""
        if self._grouper is None:
            self._grouper = Grouper(self.columns, where=self.where)
        return self._grouper

    def take(self, got: Iterable[Group | BulkInputError]) -> Iterator[Group]:
        """The groups to score, in order: those to skip counted; an error raised in its place."""
        for group in got:
            if isinstance(group, BulkInputError):
                raise group
            if group.key in self.skip:
                self.summary.skipped_groups += 1
                self.summary.skipped_rows += len(group.rows)
                continue
            yield group

    def groups(self, items: Iterable[Mapping[str, object] | Any]) -> Iterator[Group]:
        yield from self.take(self.grouper().feed(items))

    def tokens(self, count: int, usage: Usage | None = None) -> Extra | None:
        """The token columns of a group of ``count`` rows, with ``usage=True``; else none."""
        if not self.usage:
            return None
        prompt = None if usage is None else usage.prompt_tokens
        total = None if usage is None else usage.total_tokens
        return {USAGE_COLUMNS[0]: [prompt] * count, USAGE_COLUMNS[1]: [total] * count}

    def ready(self, group: Group, size: int) -> ScoredGroup | None:
        """The group's outcome when nothing is to be sent: carried over, or a bad cell."""
        if self.carried is not None:
            given = group.rows if isinstance(group.rows, list) else group.rows.rows()
            rows = self.carried(group.key, given)
            if rows is not None:
                if self.usage:
                    for row in rows:  # what the earlier output said, else unknown
                        for name in USAGE_COLUMNS:
                            row.setdefault(name, None)
                return ScoredGroup(group.key, rows, None, 0, carried=True)
        if group.error is not None:
            return failed(
                group,
                one_line(group.error),
                size,
                kind="BulkInputError",
                extra=self.tokens(len(group.rows)),
            )
        return None

    def outcome(self, group: Group, scores: _Outcome, size: int) -> ScoredGroup:
        if isinstance(scores, ScoredGroup):
            return scores
        if isinstance(scores, RerankerError):
            if _stops_the_run(scores):
                raise scores
            hint = getattr(scores, "hint", None)
            return failed(
                group,
                one_line(str(scores)),
                size,
                kind=error_kind(scores),
                hint=hint if isinstance(hint, str) and hint else None,
                extra=self.tokens(len(group.rows)),
            )
        extra = self.tokens(len(group.rows), scores.usage)
        if not scores.reranked:  # D-EXT-FAIL-OPEN: kept, in input order, unscored
            out = not_reranked(group, one_line(_first_line(scores.error)), size, extra)
            out.usage = scores.usage
            return out
        values = cast("list[float]", [entry.score for entry in scores.document_scores])
        # (a reranked result scores every document: no score is None)
        out = scored(group, values, size, scores.min_score, extra)
        out.usage = scores.usage
        return out

    def done(self, group: ScoredGroup, started: float) -> None:
        self.summary.add(group)
        self.summary.requests = self.requests.count
        self.summary.seconds = time.monotonic() - started
        if self.on_group is not None:
            self.on_group(group, self.summary)

    def check_stop(self) -> None:
        """Stop the run if ``stop_after`` groups in a row failed with the same kind of error."""
        summary = self.summary
        if self.stop_after is None or summary.failures_in_a_row < self.stop_after:
            return
        kind = summary.last_kind or "error"
        last = summary.errors[kind]
        summary.stopped = True
        raise BulkStoppedError(
            f"stopped after {summary.failures_in_a_row} queries in a row failed with the same "
            f"error ({kind}): {last.message}",
            hint=last.hint,
        )


class _Threads:
    """Groups scored on ``concurrency`` daemon threads, each calling ``Client.rank``."""

    def __init__(self, client: Client, cfg: ClassConfig | None, concurrency: int) -> None:
        self.client = client
        self._cfg = cfg
        self._jobs: queue.SimpleQueue[tuple[Group, Future[_Outcome]] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"reranker-nvidia-bulk_{k}", daemon=True)
            for k in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None or self._stop.is_set():
                return
            group, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._score(group))
                except BaseException as err:  # noqa: BLE001 - handed to the caller
                    future.set_exception(err)

    def _score(self, group: Group) -> RankResult | RerankerError:
        try:
            return self.client.rank(group.query, group.documents, self._cfg)
        except RerankerError as err:
            return err

    def submit(self, group: Group) -> Future[_Outcome]:
        future: Future[_Outcome] = Future()
        self._jobs.put((group, future))
        return future

    def stop(self, *, close: bool) -> None:
        """Nothing more starts; what is in flight is abandoned, not awaited."""
        self._stop.set()
        for _ in self._threads:
            self._jobs.put(None)
        if close:
            self.client.close()


class _Loop:
    """Groups scored by one :class:`AsyncClient` on one event-loop thread.

    Every request of every group in flight shares that one thread (no thread per
    chunk), so more groups in flight cost no more threads handing the GIL around.
    Stopping sends nothing more; the requests in flight are left to end on that
    thread, never awaited by the caller (as the threads of a given client are).
    """

    def __init__(self, client: AsyncClient, cfg: ClassConfig | None, concurrency: int) -> None:
        self.client = client
        self._cfg = cfg
        self._stopping = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="reranker-nvidia-bulk", daemon=True)
        self._thread.start()
        self._slots = self._call(self._semaphore(concurrency)).result()

    def _run(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    @staticmethod
    async def _semaphore(concurrency: int) -> asyncio.Semaphore:
        return asyncio.Semaphore(concurrency)

    def _call(self, work: Coroutine[Any, Any, _T]) -> Future[_T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    async def _score(self, group: Group) -> RankResult | RerankerError:
        async with self._slots:
            if self._stopping:
                raise asyncio.CancelledError  # the run stopped: nothing more is sent
            try:
                return await self.client.rank(group.query, group.documents, self._cfg)
            except RerankerError as err:
                return err

    def submit(self, group: Group) -> Future[_Outcome]:
        return cast("Future[_Outcome]", self._call(self._score(group)))

    async def _shutdown(self, close: bool) -> None:
        current = asyncio.current_task()
        await asyncio.gather(
            *(t for t in asyncio.all_tasks() if t is not current), return_exceptions=True
        )
        if close:
            with contextlib.suppress(Exception):
                await self.client.aclose()

    def stop(self, *, close: bool, wait: bool) -> None:
        """Nothing more is sent; the client is closed (if ``close``) once nothing is in flight.

        ``wait``: until then (the run ended with nothing in flight, or ended normally).
        """
        self._stopping = True
        done = self._call(self._shutdown(close))
        done.add_done_callback(lambda _: self._loop.call_soon_threadsafe(self._loop.stop))
        if wait:
            self._thread.join()


class BulkRun:
    """A synchronous run: iterate it for the output rows, or :meth:`groups` for whole groups.

    Nothing is sent before iteration starts. :attr:`summary` is up to date
    after each group. Leaving the iteration early (``break``, Ctrl-C) sends
    nothing more. A run that builds its own client (from ``config``) scores on
    one :class:`AsyncClient` on one event-loop thread; a ``client`` given is
    called from ``concurrency`` threads.
    """

    def __init__(
        self,
        source: Source,
        client: Client | None,
        settings: _Settings,
        concurrency: int | None,
    ) -> None:
        self._source = source
        self._own = client is None
        self._client: Client | AsyncClient = (
            client if client is not None else settings.config.async_client()
        )
        self._settings = settings
        self._concurrency = DEFAULT_CONCURRENCY if concurrency is None else concurrency
        if self._concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self._concurrency}")
        settings.read_from(source)

    @property
    def summary(self) -> BulkSummary:
        return self._settings.summary

    def __iter__(self) -> Iterator[Row]:
        for group in self.groups():
            yield from group.rows

    def groups(self) -> Generator[ScoredGroup]:
        """The scored groups, in input order; ``close()`` it to stop (nothing more is sent)."""
        settings = self._settings
        size = self._settings.chunk_size(self._client.max_documents)
        started = time.monotonic()
        client = self._client
        engine: _Threads | _Loop = (
            _Threads(client, settings.cfg, self._concurrency)
            if isinstance(client, Client)
            else _Loop(client, settings.cfg, self._concurrency)
        )
        window: collections.deque[tuple[Group, Future[_Outcome]]] = collections.deque()
        settings.requests.attach(client.http)

        abandoned = False  # Ctrl-C: the process is ending; nothing is closed on the way out

        def head() -> ScoredGroup:
            group, done = window.popleft()
            out = settings.outcome(group, done.result(), size)
            settings.done(out, started)
            return out

        finished = False
        try:
            for group in settings.groups(source_items(self._source)):
                ready = settings.ready(group, size)
                if ready is None:
                    future = engine.submit(group)
                else:
                    future = Future()
                    future.set_result(ready)
                window.append((group, future))
                while len(window) >= 2 * self._concurrency:
                    yield head()
                    settings.check_stop()
            while window:
                yield head()
                settings.check_stop()
            finished = True
        except BaseException as exc:
            self.summary.interrupted = not isinstance(exc, RerankerError)  # errors say themselves
            abandoned = isinstance(exc, KeyboardInterrupt)
            raise
        finally:
            close = self._own and not abandoned
            if isinstance(engine, _Loop):
                engine.stop(close=close, wait=finished)  # an early stop does not wait
            else:
                for _, pending in window:
                    pending.cancel()
                engine.stop(close=close)
            settings.requests.detach(client.http)
            self.summary.requests = settings.requests.count
            self.summary.seconds = time.monotonic() - started


class AsyncBulkRun:
    """An asynchronous run: ``async for`` the output rows, or :meth:`groups` for whole groups."""

    def __init__(
        self,
        source: Source | AsyncIterable[Any],
        client: AsyncClient | None,
        settings: _Settings,
        concurrency: int | None,
    ) -> None:
        self._source = source
        self._own = client is None
        self._client = client if client is not None else settings.config.async_client()
        self._settings = settings
        self._concurrency = DEFAULT_CONCURRENCY if concurrency is None else concurrency
        if self._concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self._concurrency}")
        settings.read_from(source)

    @property
    def summary(self) -> BulkSummary:
        return self._settings.summary

    async def __aiter__(self) -> AsyncIterator[Row]:
        async for group in self.groups():
            for row in group.rows:
                yield row

    async def _items(self) -> AsyncIterator[Mapping[str, object] | Any]:
        if isinstance(self._source, AsyncIterable):
            async for item in self._source:
                for one in source_items([item]):
                    yield one
        else:
            for one in source_items(self._source):
                yield one

    async def _windows(self) -> AsyncIterator[list[Group]]:
        settings = self._settings
        grouper = settings.grouper()
        window: list[Group] = []
        # Groups are cut as the rows come; a group is complete when the next starts.
        async for item in self._items():
            window.extend(settings.take(grouper.push(item)))
            if len(window) >= 2 * self._concurrency:
                yield window
                window = []
        window.extend(settings.take(grouper.finish()))
        if window:
            yield window

    async def _score(
        self,
        limit: anyio.CapacityLimiter,
        group: Group,
        results: list[_Outcome],
        i: int,
    ) -> None:
        async with limit:
            try:
                results[i] = await self._client.rank(
                    group.query, group.documents, self._settings.cfg
                )
            except RerankerError as err:
                results[i] = err

    async def groups(self) -> AsyncIterator[ScoredGroup]:
        """The scored groups, in input order."""
        settings = self._settings
        size = self._settings.chunk_size(self._client.max_documents)
        started = time.monotonic()
        limit = anyio.CapacityLimiter(self._concurrency)
        settings.requests.attach(self._client.http)
        try:
            async for window in self._windows():
                results: list[_Outcome] = [RankResult("") for _ in window]
                async with anyio.create_task_group() as tasks:
                    for i, group in enumerate(window):
                        ready = settings.ready(group, size)
                        if ready is None:
                            tasks.start_soon(self._score, limit, group, results, i)
                        else:
                            results[i] = ready
                for group, outcome in zip(window, results, strict=True):
                    out = settings.outcome(group, outcome, size)
                    settings.done(out, started)
                    yield out
                    settings.check_stop()
        except BaseException as exc:
            self.summary.interrupted = not isinstance(exc, RerankerError)  # errors say themselves
            raise
        finally:
            settings.requests.detach(self._client.http)
            self.summary.requests = settings.requests.count
            self.summary.seconds = time.monotonic() - started
            if self._own:
                with anyio.CancelScope(shield=True):
                    await self._client.aclose()


def rerank_table(
    source: Source,
    *,
    config: ClientConfig | None = None,
    client: Client | None = None,
    columns: Columns = DEFAULT_COLUMNS,
    concurrency: int | None = None,
    skip: Collection[str] = frozenset(),
    on_group: Callable[[ScoredGroup, BulkSummary], None] | None = None,
    carried: Carried | None = None,
    stop_after: int | None = None,
) -> BulkRun:
    """Score a long-form table: one row per (query, passage), the same rows back with scores.

    ``source`` is any iterable of rows (mappings), Arrow record batches or
    tables, or pandas data frames, read lazily. Each output row is its input
    row plus ``score``, ``rank`` (in its query, from 1), ``chunk`` (the request
    of ``Client.rank`` that scored it) and ``error`` (a failed group's error, on
    each of its rows, whose ``score`` and ``rank`` are then ``None``). A row
    with a bad cell (a passage that is not text, neither passage nor image)
    fails its query, unsent, with an error naming the row.
    ``config`` builds the client and gives the class settings (``base_url``,
    ``model``); a ``client`` given is used, and not closed. ``concurrency``
    groups are in flight at once (``DEFAULT_CONCURRENCY``, 16, by default);
    groups whose query id is in ``skip`` are not sent, nor given back.
    ``carried(query_id, rows)`` may give a query's output rows from an earlier
    run: they are given back in the query's place, and nothing is sent for it.
    ``stop_after=N`` stops the run with :class:`BulkStoppedError` once N queries
    in a row failed with the same kind of error. ``on_group`` is called after
    each group with the run's summary.
    """
    settings = _Settings(config, columns, skip, on_group, carried=carried, stop_after=stop_after)
    return BulkRun(source, client, settings, concurrency)


def arerank_table(
    source: Source | AsyncIterable[Any],
    *,
    config: ClientConfig | None = None,
    client: AsyncClient | None = None,
    columns: Columns = DEFAULT_COLUMNS,
    concurrency: int | None = None,
    skip: Collection[str] = frozenset(),
    on_group: Callable[[ScoredGroup, BulkSummary], None] | None = None,
    carried: Carried | None = None,
    stop_after: int | None = None,
) -> AsyncBulkRun:
    """:func:`rerank_table` on an :class:`AsyncClient`; ``source`` may be an async iterable."""
    settings = _Settings(config, columns, skip, on_group, carried=carried, stop_after=stop_after)
    return AsyncBulkRun(source, client, settings, concurrency)


def _first_line(err: BaseException | None) -> str:
    """An error's one line, as the fail-open warning gives it."""
    text = str(err) if err is not None else ""
    return text.splitlines()[0] if text else type(err).__name__
