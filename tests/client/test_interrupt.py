"""Ctrl-C during ``Client.rank`` stops sending at once: the chunks in flight are not waited for,
and no further chunk is sent, in a test's thread or in a script."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reranker_nvidia import ClassBasedModuleConfig, Client
from tests.support.httptest import Request, StartServer, Writer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a thread is POSIX")
def test_ctrl_c_stops_the_sync_client_without_sending_another_chunk(
    http_server: StartServer,
) -> None:
    started: list[float] = []
    lock = threading.Lock()

    def slow(request: Request, writer: Writer) -> None:
        with lock:
            started.append(time.monotonic())
        time.sleep(0.3)
        passages = len(request.json()["passages"])
        writer.respond(200, {"rankings": [{"index": i, "logit": 1.0} for i in range(passages)]})

    server = http_server(slow)
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url})
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    interrupted_at: list[float] = []

    def interrupt_at_chunk_8() -> None:
        while len(server.requests) < 8:
            time.sleep(0.01)
        interrupted_at.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_at_chunk_8, daemon=True)
    with Client("k", timeout=30, max_documents=1, max_concurrency=2) as client:
        interrupter.start()
        with pytest.raises(KeyboardInterrupt):
            client.rank("q", [f"d{i}" for i in range(40)], cfg)
        raised_at = time.monotonic()
        time.sleep(1.0)  # more than one server delay: anything still going would have arrived
    interrupter.join()
    # Promptly: the chunks in flight are not waited for (each takes 0.3 s).
    assert raised_at - interrupted_at[0] < 0.3 + 5
    # At most the two chunks in flight (one per worker) started after the interrupt.
    after = [t for t in started if t > interrupted_at[0]]
    assert len(after) <= 2, (len(started), len(after))
    assert len(started) <= 8 + 2


SCRIPT = """
import sys
from reranker_nvidia import ClassBasedModuleConfig, Client
cfg = ClassBasedModuleConfig.for_settings({"baseURL": sys.argv[1]})
client = Client("k", timeout=60, max_documents=1, max_concurrency=2)
print("ranking", flush=True)
client.rank("q", [f"d{i}" for i in range(10)], cfg)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_a_script_interrupted_in_client_rank_exits_without_waiting_for_the_chunks_in_flight(
    http_server: StartServer,
) -> None:
    in_flight = threading.Semaphore(0)

    def never(request: Request, writer: Writer) -> None:
        in_flight.release()
        writer.block()  # only the interrupt can end the call
        writer.answered = True

    server = http_server(never)
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ranking\n"
        for _ in range(2):  # both workers are waiting on the server
            assert in_flight.acquire(timeout=30)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)  # the timeout is 60 s: no waiting for it
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert stderr.rstrip().endswith(b"KeyboardInterrupt"), stderr[-300:]
    assert len(server.requests) == 2
