"""The sync client's chunk workers: Go's error group with ``SetLimit``, on daemon threads.

Python only. ``run_jobs`` runs ``job(0)``, ``job(1)``, … on at most
``workers`` threads. The first job to fail stops the rest from starting
(D-CHUNK-STOP); the jobs in flight finish, and the failure is raised. An
exception in the calling thread while it waits (Ctrl-C) is raised at once: no
job starts after it, and the jobs in flight finish on threads that never hold
the interpreter open (daemon threads, where ``ThreadPoolExecutor``'s are
joined at exit, up to a whole timeout later).

The threads come from a :class:`WorkerPool`, one per client (``pool_of``),
made on first use and closed with the client (``close_pool``): a call reuses
the threads an earlier call left idle instead of starting new ones, and starts
one only when none is idle, so calls from many threads at once never wait for
each other, as Go's goroutines do not. A thread idle for
:data:`IDLE_SECONDS` ends; so does every idle thread when the pool is closed
or its client is collected.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable


def num_cpu() -> int:
    """Go's ``runtime.NumCPU()``: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


IDLE_SECONDS = 60.0
"""How long a pool thread waits for more work before it ends."""

Task = Callable[[], None]


class WorkerPool:
    """Daemon threads that run one task after another, started only when none is idle."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Task | None]] = []
        self._started = 0
        self._closed = False

    def submit(self, task: Task) -> None:
        """Run ``task`` on an idle thread, or on a new one."""
        with self._lock:
            inbox: queue.SimpleQueue[Task | None] | None = self._idle.pop() if self._idle else None
            if inbox is None:
                self._started += 1
                number = self._started
        if inbox is None:
            # The task reaches the thread through its inbox, never its arguments: a thread keeps
            # those until it ends, and with them the client the task belongs to.
            inbox = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._serve, args=(inbox,), name=f"{self._name}_{number}", daemon=True
            )
            thread.start()
        inbox.put(task)

    def close(self) -> None:
        """End every idle thread; a busy one ends when its task is done. Later tasks still run."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for inbox in idle:
            inbox.put(None)

    def idle_threads(self) -> int:
        with self._lock:
            return len(self._idle)

    def _serve(self, inbox: queue.SimpleQueue[Task | None]) -> None:
        task = inbox.get()
        while task is not None:
            task()
            task = None  # an idle thread holds nothing of the call it ran, so its client can go
            with self._lock:
                if self._closed:
                    return
                self._idle.append(inbox)
            try:
                task = inbox.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # nobody picked this thread: it ends
                        self._idle.remove(inbox)
                        return
                task = inbox.get()  # picked just now: the task is on its way


_POOLS: weakref.WeakKeyDictionary[object, WorkerPool] = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def pool_of(owner: object, name: str) -> WorkerPool:
    """The pool of ``owner`` (a client), made on first use; closed when ``owner`` is collected."""
    with _POOLS_LOCK:
        pool = _POOLS.get(owner)
        if pool is None:
            pool = _POOLS[owner] = WorkerPool(name)
            weakref.finalize(owner, pool.close)
    return pool


def close_pool(owner: object) -> None:
    """Close the pool of ``owner``, if it has one; the next call makes a new one."""
    with _POOLS_LOCK:
        pool = _POOLS.pop(owner, None)
    if pool is not None:
        pool.close()


def run_jobs(
    count: int,
    workers: int,
    job: Callable[[int], None],
    name: str,
    pool: WorkerPool | None = None,
) -> None:
    """Run ``job(i)`` for each ``i < count`` on ``workers`` threads; re-raise the first failure.

    The threads are ``pool``'s, else new ones for this call only. With one
    worker the jobs run on the calling thread, one after the other.
    """
    if workers <= 1:
        for index in range(count):
            job(index)
        return
    lock = threading.Lock()
    stop = threading.Event()
    settled = threading.Event()
    state = {"next": 0, "finished": 0}
    failures: list[tuple[int, BaseException]] = []
    """(job, failure) in the order the failures happened."""

    def work() -> None:
        while not stop.is_set():
            with lock:
                index = state["next"]
                if index >= count:
                    return
                state["next"] = index + 1
            try:
                job(index)
            except BaseException as err:  # noqa: BLE001 - handed to the caller
                with lock:
                    failures.append((index, err))
                stop.set()
                settled.set()
                return
            with lock:
                state["finished"] += 1
                if state["finished"] == count:
                    settled.set()

    running = threading.Semaphore(0)
    """One release per worker loop that has returned."""

    def loop() -> None:
        try:
            work()
        finally:
            running.release()

    own = pool if pool is not None else WorkerPool(name)
    try:
        for _ in range(workers):
            own.submit(loop)
        settled.wait()
        if failures:
            stop.set()
            for _ in range(workers):  # the jobs in flight finish, as before the failure
                running.acquire()
    except BaseException:
        # Ctrl-C (or any interruption of this thread): nothing more starts, nothing is awaited.
        stop.set()
        raise
    finally:
        if pool is None:
            own.close()
    if failures:
        raise failures[0][1]  # the first to fail, as Go's error group returns it
