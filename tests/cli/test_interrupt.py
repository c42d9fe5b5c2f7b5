"""Ctrl-C stops the real command line at once: status 130, one line, no further chunk sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.httptest import Request, StartServer, Writer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_exits_130_at_once_and_sends_no_further_chunk(
    http_server: StartServer, tmp_path: Path
) -> None:
    in_flight = threading.Semaphore(0)

    def slow(request: Request, w: Writer) -> None:
        in_flight.release()
        w.block()  # a NIM that never answers: only the interrupt can end the run
        w.answered = True  # the client is gone: nothing to answer

    server = http_server(slow)
    documents = tmp_path / "docs.txt"
    documents.write_text("".join(f"document {i}\n" for i in range(40)))
    env = {**os.environ, "NVIDIA_APIKEY": "k", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [
            sys.executable, "-m", "reranker_nvidia", "rerank", "--query", "q",
            "--base-url", server.url, "--max-documents", "1", "--max-concurrency", "2",
            "--timeout", "0", "--input", str(documents),
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        for _ in range(2):  # both workers wait on an answer
            assert in_flight.acquire(timeout=30), "the command line sent nothing"
        sent = len(server.requests)
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)  # generous slack; the report has the figure
        elapsed = time.monotonic() - started
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    time.sleep(0.2)  # anything still sent would have arrived by now
    assert child.returncode == 130
    assert (out, err) == (b"", b"error: interrupted\n")
    assert len(server.requests) == sent == 2
    assert elapsed < 10
