"""The sync client's chunk workers: Go's error group with ``SetLimit``, on daemon threads.

Python only. ``run_jobs`` runs ``job(0)``, ``job(1)``, … on at most
``workers`` threads. The first job to fail stops the rest from starting
(D-CHUNK-STOP); the jobs in flight finish, and the failure is raised. An
exception in the calling thread while it waits (Ctrl-C) is raised at once: no
job starts after it, and the jobs in flight finish on threads that never hold
the interpreter open (daemon threads, where ``ThreadPoolExecutor``'s are
joined at exit, up to a whole timeout later).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_jobs(count: int, workers: int, job: Callable[[int], None], name: str) -> None:
    """Run ``job(i)`` for each ``i < count`` on ``workers`` threads; re-raise the first failure."""
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

    threads = [
        threading.Thread(target=work, name=f"{name}_{k}", daemon=True) for k in range(workers)
    ]
    try:
        for thread in threads:
            thread.start()
        settled.wait()
        if failures:
            stop.set()
            for thread in threads:  # the jobs in flight finish, as before the failure
                if thread.is_alive():
                    thread.join()
    except BaseException:
        # Ctrl-C (or any interruption of this thread): nothing more starts, nothing is awaited.
        stop.set()
        raise
    if failures:
        raise failures[0][1]  # the first to fail, as Go's error group returns it
