"""Reliability figures (`make faults`): faults, load, SSRF and secrets, against the emulator.

Four runs, one process for the clients, the NIM emulator in a process of its own:

* **faults** — for each fault, ``--calls`` rerank calls through the sync and the async client,
  with retries off and on. A fault is armed before one call in ``--every`` (``count=1``), so a
  retry can succeed; every result is compared with the emulator's own scores for the same input,
  taken once without faults. Oversized bodies, a redirect loop and a stalled server come from a
  small misbehaving server of this script, which proxies the other calls to the emulator.
* **load** — ``--duration`` seconds each: concurrent calls through one ``AsyncClient``, threads
  sharing one ``Client``, clients created and closed; open descriptors and RSS before and after.
* **ssrf** — with ``MODULES_VALIDATE_BASE_URL`` on, internal base URLs in many spellings through
  the ``X-Nvidia-Baseurl`` header; a listener on 127.0.0.1 counts every connection that reached it.
* **secrets** — the fault and SSRF runs use a recognisable key; every exception (message, repr,
  args, attributes, cause and context chains), client repr, log line, the emulator's output and
  log, the cassettes and the results are scanned for it.

``--quick`` runs everything small, in well under a minute (the smoke test uses it). Output:
``benchmarks/results/faults-<date>.json`` and ``.md`` (``-quick`` added in quick mode).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import datetime
import functools
import gc
import gzip
import http.client
import io
import ipaddress
import json
import logging
import os
import platform
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from reranker_nvidia import (  # noqa: E402
    AsyncClient,
    ClassBasedModuleConfig,
    Client,
    RerankerError,
)
from reranker_nvidia.modulecomponents.validate_baseurl import ResolveError  # noqa: E402

CANARY = "nvapi-CANARY-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e"
"""The recognisable key every fault and SSRF run uses; it must appear nowhere it is scanned for."""
MODEL = "nvidia/rerank-qa-mistral-4b"
SLACK = 1.0
"""A call that takes longer than the client's timeout plus this is a hang (room for a busy CPU)."""
RSS_GROWTH_LIMIT = 5 << 20
"""Load: more RSS than this after the run than after its warm-up counts as growth."""
MUST_BE_ZERO = ("wrong_result", "hang", "untyped")

# name, spec (None: this script's own server), slow (armed more rarely: each costs a timeout)
FAULTS: tuple[tuple[str, str, bool], ...] = (
    ("close before the response", "drop", False),
    ("reset before the response", "drop=reset", False),
    ("close mid-body", "drop-mid-body", False),
    ("429", "status=429", False),
    ("500", "status=500", False),
    ("502", "status=502", False),
    ("503 with Retry-After: 1", "status=503,retry-after=1", False),
    ("503 with Retry-After: 10800 (past the deadline)", "status=503", False),
    ("504", "status=504", False),
    ("malformed JSON", "malformed-json", False),
    ("indices: missing", "indices=missing", False),
    ("indices: duplicate", "indices=duplicate", False),
    ("indices: out of range", "indices=out-of-range", False),
    ("indices: negative", "indices=negative", False),
    ("unsorted: ascending", "unsorted=ascending", False),
    ("unsorted: shuffled", "unsorted=shuffled", False),
    ("rate limit 40/s, Retry-After: 1", "ratelimit=40/1,retry-after=1", False),
    ("body slower than the timeout", "slow-body={slow_ms}", True),
    ("headers slower than the timeout", "latency={slow_ms}", True),
    ("stalled server (never answers)", "own:stall", True),
    ("oversized body (9 MiB)", "own:oversized", False),
    ("redirect loop (307 to itself)", "own:redirect", False),
)
STANDING = {"ratelimit"}
"""Faults armed once for the whole run (they fire by themselves on a fraction of requests)."""

INPUTS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (
        f"question {q}: when does the {topic} open?",
        tuple(
            f"passage {q}.{p}: the {topic} opens at {8 + (q + p) % 5} and closes at "
            f"{17 + (q * p) % 6}, except on holiday {p}."
            for p in range(5)
        ),
    )
    for q, topic in enumerate(("library", "pool", "museum", "market"))
)


# ---------------------------------------------------------------------------------------------
# Servers: the emulator (a process), this script's misbehaving server, the SSRF listener


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Emulator:
    """``nim-emulator`` in its own process, so its CPU and descriptors are not the client's."""

    def __init__(self, log_path: Path, *, quiet: bool, request_log: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-c", "from nim_emulator.cli import console; console()"]
        args += ["--port", str(self.port), "--api-key", CANARY]
        args += ["--quiet"] if quiet else []
        args += ["--max-logged", "1"] if request_log else ["--no-request-log"]
        self._log = log_path.open("w")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        self._connection: http.client.HTTPConnection | None = None
        deadline = time.monotonic() + 20
        while True:
            try:
                self.control("GET", "/v1/health/ready")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.05)

    def control(self, method: str, path: str, body: object = None) -> Any:
        for _ in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                data = None if body is None else json.dumps(body).encode()
                self._connection.request(method, path, body=data)
                answer = self._connection.getresponse()
                raw = answer.read()
                return json.loads(raw) if raw.strip() else None
            except (OSError, http.client.HTTPException):
                self._connection.close()
                self._connection = None
        raise OSError(f"the emulator's control route {path} did not answer")

    def arm(self, spec: str) -> None:
        self.control("POST", "/_emulator/faults", {"spec": spec})

    def disarm(self) -> None:
        self.control("DELETE", "/_emulator/faults")

    def seen(self) -> int:
        """How many requests the emulator has received (its log's last ``seq``)."""
        records = self.control("GET", "/_emulator/requests")["requests"]
        return max((int(r["seq"]) for r in records), default=0)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self.process.terminate()
        self.process.wait(timeout=10)
        self._log.close()


class Misbehaving(ThreadingHTTPServer):
    """Serves a fault to the next ``armed`` requests, proxies the others to the emulator."""

    daemon_threads = True
    request_queue_size = 1024  # a backlog of 5 would reset connections under load

    def __init__(self, upstream: Emulator) -> None:
        super().__init__(("127.0.0.1", 0), _MisbehavingHandler)
        self.upstream = upstream
        self.mode = "stall"
        self.armed = 0
        self.requests = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def take(self) -> bool:
        with self.lock:
            self.requests += 1
            if self.armed:
                self.armed -= 1
                return True
            return False

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        del request, client_address  # a client that timed out and left is expected here


class _MisbehavingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Misbehaving

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if not self.server.take():
            self._proxy(body)
        elif self.server.mode == "stall":
            self.server.stop.wait(30)
            self.close_connection = True
        elif self.server.mode in EDGE_MODES:  # the transport-edges block
            EDGE_MODES[self.server.mode](self, body)
        elif self.server.mode == "redirect":
            self.send_response(307)
            self.send_header("location", f"{self.server.url}{self.path}")
            self.send_header("content-length", "0")
            self.end_headers()
        else:  # oversized: a 200 whose body is past the client's 8 MiB cap
            pad = b'{"rankings":[],"pad":"' + b"x" * (9 << 20) + b'"}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(pad)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(pad)

    def _proxy(self, body: bytes) -> None:
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream.port, timeout=30)
        try:
            keep = ("authorization", "content-type", "accept")
            upstream.request(
                "POST",
                self.path,
                body=body,
                headers={k: v for k, v in self.headers.items() if k.lower() in keep},
            )
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        self.send_header("content-type", answer.getheader("content-type") or "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Listener:
    """A TCP listener on 127.0.0.1 (and ::1 where there is one) that counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.sockets: list[socket.socket] = []
        first = socket.create_server(("127.0.0.1", 0))
        self.port = first.getsockname()[1]
        self.sockets.append(first)
        with contextlib.suppress(OSError):
            self.sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        self._stop = False
        for sock in self.sockets:
            sock.settimeout(0.2)
            threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _accept(self, sock: socket.socket) -> None:
        while not self._stop:
            try:
                connection, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop = True
        time.sleep(0.3)
        for sock in self.sockets:
            sock.close()


# ---------------------------------------------------------------------------------------------
# Secrets: a scan of everything a caller or an operator could see


@dataclass
class SecretScan:
    hits: list[str] = field(default_factory=list)
    scanned: collections.Counter[str] = field(default_factory=collections.Counter)

    def text(self, what: str, value: str | bytes) -> None:
        self.scanned[what] += 1
        raw = value.encode("utf-8", "replace") if isinstance(value, str) else value
        if CANARY.encode() in raw or CANARY[len("nvapi-") :].encode() in raw:
            self.hits.append(what)

    def exception(self, err: BaseException) -> None:
        self._walk("exception", err, set(), 0)

    def _walk(self, what: str, value: object, seen: set[int], depth: int) -> None:
        if depth > 8 or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, str | bytes | bytearray):
            self.text(what, bytes(value) if isinstance(value, bytearray) else value)
            return
        if value is None or isinstance(value, int | float | bool):
            return
        if isinstance(value, BaseException):
            self.text(f"{what} message", str(value))
            self.text(f"{what} repr", repr(value))
            self._walk(f"{what} args", value.args, seen, depth + 1)
            for name, item in vars(value).items():
                self._walk(f"{what} .{name}", item, seen, depth + 1)
            for note in getattr(value, "__notes__", ()):
                self.text(f"{what} note", note)
            self._walk(f"{what} __cause__", value.__cause__, seen, depth + 1)
            self._walk(f"{what} __context__", value.__context__, seen, depth + 1)
            return
        if isinstance(value, dict):
            for key, item in value.items():
                self._walk(what, key, seen, depth + 1)
                self._walk(what, item, seen, depth + 1)
            return
        if isinstance(value, list | tuple | set | frozenset):
            for item in value:
                self._walk(what, item, seen, depth + 1)
            return
        self.text(f"{what} (repr)", repr(value))
        if hasattr(value, "__dict__"):
            for name, item in vars(value).items():
                if name.lower() not in ("_api_key", "api_key", "_key", "value"):
                    self._walk(f"{what} .{name}", item, seen, depth + 1)

    def files(self, what: str, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.text(what, path.read_bytes())


@contextlib.contextmanager
def captured_logs(scan: SecretScan) -> Iterator[None]:
    """Every log record of every logger, at DEBUG, for the scan."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        for line in buffer.getvalue().splitlines():
            scan.text("log line", line)


# ---------------------------------------------------------------------------------------------
# Faults


@dataclass
class Tally:
    fault: str
    spec: str
    client: str
    retries: int
    calls: int = 0
    faulted: int = 0
    correct: int = 0
    correct_after_retry: int = 0
    typed_error: int = 0
    wrong_result: int = 0
    hang: int = 0
    untyped: int = 0
    slowest: float = 0.0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    untyped_examples: list[str] = field(default_factory=list)
    wrong_examples: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        common = self.errors.most_common(1)
        return {
            "fault": self.fault,
            "spec": self.spec,
            "client": self.client,
            "retries": self.retries,
            "calls": self.calls,
            "faulted": self.faulted,
            "correct": self.correct,
            "correct_after_retry": self.correct_after_retry,
            "typed_error": self.typed_error,
            "wrong_result": self.wrong_result,
            "hang": self.hang,
            "untyped": self.untyped,
            "slowest_s": round(self.slowest, 3),
            "typed_error_message": common[0][0] if common else None,
            "typed_error_kinds": len(self.errors),
            "untyped_examples": self.untyped_examples[:3],
            "wrong_examples": self.wrong_examples[:3],
        }


class _NeverReturnedError(Exception):
    """The harness's own outer guard fired: the call was still running (a hang, and untyped)."""


def masked(text: str, urls: Sequence[str]) -> str:
    for url in urls:
        text = text.replace(url, "http://127.0.0.1:PORT")
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


@dataclass
class FaultRun:
    emulator: Emulator
    own: Misbehaving
    timeout: float
    calls: int
    every: int
    every_slow: int
    slow_ms: int
    scan: SecretScan
    expected: list[list[float]] = field(default_factory=list)

    def cfg(self, base_url: str) -> ClassBasedModuleConfig:
        return ClassBasedModuleConfig.for_settings({"model": MODEL, "baseURL": base_url})

    def sync_client(self, retries: int) -> Client:
        return Client(CANARY, timeout=self.timeout, retries=retries)

    def async_client(self, retries: int) -> AsyncClient:
        # The async runs send the key in X-Nvidia-Api-Key, as Weaviate does per request.
        return AsyncClient("", timeout=self.timeout, retries=retries)

    def learn_expected(self) -> None:
        with Client(CANARY, timeout=10) as client:
            for query, documents in INPUTS:
                result = client.rank(query, list(documents), self.cfg(self.emulator.url))
                self.expected.append([s.score for s in result.document_scores])

    def _judge(self, tally: Tally, i: int, started: float, outcome: object, requests: int) -> None:
        took = time.monotonic() - started
        tally.calls += 1
        tally.slowest = max(tally.slowest, took)
        if took > self.timeout + SLACK:
            tally.hang += 1
        if isinstance(outcome, BaseException):
            self.scan.exception(outcome)
            line = masked(f"{type(outcome).__name__}: {outcome}", [self.emulator.url, self.own.url])
            if isinstance(outcome, RerankerError):
                tally.typed_error += 1
                tally.errors[line.splitlines()[0] if line else line] += 1
            else:
                tally.untyped += 1
                tally.untyped_examples.append(line[:300])
            return
        scores = [s.score for s in getattr(outcome, "document_scores", [])]
        if scores != self.expected[i % len(INPUTS)]:
            tally.wrong_result += 1
            tally.wrong_examples.append(f"call {i}: {scores!r}")
        elif requests > 1:
            tally.correct_after_retry += 1
        else:
            tally.correct += 1

    def _arm(self, spec: str, i: int, slow: bool) -> bool:
        every = self.every_slow if slow else self.every
        if spec.split("=", maxsplit=1)[0] in STANDING or i % every:
            return False
        if spec.startswith("own:"):
            self.own.mode = spec[4:]
            self.own.armed = 1
        else:
            self.emulator.arm(f"{spec},count=1")
        return True

    def _after(self, spec: str, faulted: bool) -> None:
        if spec.startswith("own:"):
            self.own.armed = 0
        elif faulted:
            self.emulator.disarm()

    def _seen(self, spec: str) -> int:
        return self.own.requests if spec.startswith("own:") else self.emulator.seen()

    def _counts(self, spec: str, i: int, slow: bool) -> bool:
        """Whether call ``i`` needs the server's request count: it may be sent more than once.

        A faulted call may be retried; so may the call after it, on a pooled connection the
        fault left broken; under a standing fault, every call. The others are sent once.
        """
        every = self.every_slow if slow else self.every
        return spec.split("=", maxsplit=1)[0] in STANDING or i % every in (0, 1)

    def run(self, name: str, spec: str, slow: bool, client: str, retries: int) -> Tally:
        spec = spec.format(slow_ms=self.slow_ms)
        tally = Tally(name, spec, client, retries)
        base = self.own.url if spec.startswith("own:") else self.emulator.url
        standing = spec.split("=", maxsplit=1)[0] in STANDING
        if standing:
            self.emulator.arm(spec)
        try:
            if client == "sync":
                self._run_sync(tally, spec, slow, base, retries)
            else:
                asyncio.run(self._run_async(tally, spec, slow, base, retries))
        finally:
            self.emulator.disarm()
            self.own.armed = 0
            if standing:
                time.sleep(1.1)  # let the rate window empty before the next run
        return tally

    def _run_sync(self, tally: Tally, spec: str, slow: bool, base: str, retries: int) -> None:
        guard = self.timeout + SLACK + 10
        pool = concurrent.futures.ThreadPoolExecutor(1)
        client = self.sync_client(retries)
        self.scan.text("client repr", repr(client))
        try:
            for i in range(self.calls):
                query, documents = INPUTS[i % len(INPUTS)]
                faulted = self._arm(spec, i, slow)
                tally.faulted += faulted
                counted = self._counts(spec, i, slow)
                before = self._seen(spec) if counted else 0
                started = time.monotonic()
                future = pool.submit(client.rank, query, list(documents), self.cfg(base))
                outcome: object
                # Not future.result(timeout=): the port's DeadlineExceededError is a TimeoutError.
                done, _ = concurrent.futures.wait([future], timeout=guard)
                if not done:
                    outcome = _NeverReturnedError(f"the call had not returned after {guard} s")
                    pool = concurrent.futures.ThreadPoolExecutor(1)  # the old thread is stuck
                elif future.exception() is not None:
                    outcome = future.exception()
                else:
                    outcome = future.result()
                self._after(spec, faulted)
                requests = self._seen(spec) - before if counted else 1
                self._judge(tally, i, started, outcome, requests)
        finally:
            client.close()
            pool.shutdown(wait=False)

    async def _run_async(
        self, tally: Tally, spec: str, slow: bool, base: str, retries: int
    ) -> None:
        guard = self.timeout + SLACK + 10
        headers = {"X-Nvidia-Api-Key": CANARY}
        async with self.async_client(retries) as client:
            self.scan.text("client repr", repr(client))
            for i in range(self.calls):
                query, documents = INPUTS[i % len(INPUTS)]
                faulted = self._arm(spec, i, slow)
                tally.faulted += faulted
                counted = self._counts(spec, i, slow)
                before = self._seen(spec) if counted else 0
                started = time.monotonic()
                outcome: object
                task = asyncio.ensure_future(
                    client.rank(query, list(documents), self.cfg(base), headers=headers)
                )
                # Not wait_for: the port's DeadlineExceededError is a TimeoutError too.
                done, _ = await asyncio.wait([task], timeout=guard)
                if not done:
                    task.cancel()
                    outcome = _NeverReturnedError(f"the call had not returned after {guard} s")
                elif task.exception() is not None:
                    outcome = task.exception()
                else:
                    outcome = task.result()
                self._after(spec, faulted)
                requests = self._seen(spec) - before if counted else 1
                self._judge(tally, i, started, outcome, requests)


def run_faults(args: argparse.Namespace, emulator: Emulator, scan: SecretScan) -> list[Tally]:
    own = Misbehaving(emulator)
    run = FaultRun(
        emulator,
        own,
        timeout=args.timeout,
        calls=args.calls,
        every=args.every,
        every_slow=args.every_slow,
        slow_ms=int(args.timeout * 2000),
        scan=scan,
    )
    tallies: list[Tally] = []
    try:
        run.learn_expected()
        for name, spec, slow in FAULTS:
            if args.only and args.only.lower() not in name.lower():
                continue
            for client in ("sync", "async"):
                for retries in (0, args.retries):
                    started = time.monotonic()
                    runner = edge_run(run, spec) or run  # the limiter-edges block
                    tally = runner.run(name, spec, slow, client, retries)
                    tallies.append(tally)
                    print(
                        f"  {name:34} {client:5} retries={retries} "
                        f"ok={tally.correct} retried={tally.correct_after_retry} "
                        f"typed={tally.typed_error} wrong={tally.wrong_result} "
                        f"hang={tally.hang} untyped={tally.untyped} "
                        f"({time.monotonic() - started:.1f} s)",
                        flush=True,
                    )
    finally:
        own.close()
    return tallies


# =============================================================================================
# BEGIN transport-edges block (stray answers, stacked codings, two-member
# gzip, an early 413, a reset mid-body). Its faults join FAULTS, served by the misbehaving
# server through EDGE_MODES; the stray answers of §2 run apart (run_strays), since a stray
# that lands after the next request was written is taken by any HTTP/1.1 client: those are
# counted as the window, beside the ones that must be refused. main() adds run_strays' rows
# as result["stray"] and counts its "wrong outside the window" in the exit status.

EDGE_FAULTS: tuple[tuple[str, str, bool], ...] = (
    ("Content-Encoding: gzip, gzip bomb (1 GiB)", "own:gzip-gzip-bomb", False),
    ("Content-Encoding: deflate, deflate bomb (1 GiB)", "own:deflate-deflate-bomb", False),
    ("two-member gzip body", "own:two-member-gzip", False),
    ("413 with Connection: close, then RST", "own:early-413", False),
    ("reset while the body is read", "own:reset-mid-body", False),
)
FAULTS += EDGE_FAULTS
STRAY_DELAYS_MS = (1, 5, 20)
AT_THE_WRITE = 0.001
"""A request whose first byte came within this of a stray that had landed on its idle
connection was written as the stray landed: the client's last look and its write are one
step apart (tens of µs; more on a busy CPU). Later than this is a client that failed."""
STRAY_BASE = 1000.0
"""A stray answer carries ``STRAY_BASE + its number`` as every logit, so a result shows it."""


def _bomb(wbits: int, gib: int) -> bytes:
    """A compressed JSON body of ``gib`` GiB of spaces, made without compressing them all:
    one fully flushed MiB of deflate blocks, repeated (its check value is not the real one:
    the client must refuse it at the cap long before the end)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = packer.compress(b'{"rankings": [') + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(b" " * (1 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = packer.compress(b"]}") + packer.flush()
    return head + block * (gib << 10) + tail


@functools.cache
def _stacked_bomb(coding: str) -> bytes:
    wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(_bomb(wbits, 1)) + packer.flush()


def _edge_upstream(handler: _MisbehavingHandler, body: bytes) -> tuple[int, bytes]:
    """The emulator's answer to ``body``."""
    upstream = http.client.HTTPConnection("127.0.0.1", handler.server.upstream.port, timeout=30)
    try:
        keep = ("authorization", "content-type", "accept")
        headers = {k: v for k, v in handler.headers.items() if k.lower() in keep}
        upstream.request("POST", handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        return answer.status, answer.read()
    finally:
        upstream.close()


def _edge_send(
    handler: _MisbehavingHandler, status: int, body: bytes, headers: dict[str, str]
) -> None:
    _edge_no_delay(handler)
    handler.send_response(status)
    for name, value in {"content-type": "application/json", **headers}.items():
        handler.send_header(name, value)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(body)


def _edge_no_delay(handler: _MisbehavingHandler) -> None:
    """Send each write at once: without it the body waits for the ACK of the head (Nagle's
    rule against the client's delayed ACK) and an RST that follows discards it unsent."""
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _edge_reset(handler: _MisbehavingHandler) -> None:
    """Close with a TCP RST, not a FIN."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        handler.connection.close()


def _edge_bomb(coding: str) -> Callable[[_MisbehavingHandler, bytes], None]:
    def serve(handler: _MisbehavingHandler, body: bytes) -> None:
        del body
        wire = _stacked_bomb(coding)
        _edge_send(handler, 200, wire, {"content-encoding": f"{coding}, {coding}"})

    return serve


def _edge_two_members(handler: _MisbehavingHandler, body: bytes) -> None:
    status, data = _edge_upstream(handler, body)
    half = len(data) // 2
    wire = gzip.compress(data[:half]) + gzip.compress(data[half:])
    _edge_send(handler, status, wire, {"content-encoding": "gzip"})


def _edge_early_413(handler: _MisbehavingHandler, body: bytes) -> None:
    del body
    answer = b'{"error": "Request Entity Too Large"}'
    _edge_send(handler, 413, answer, {"connection": "close"})
    time.sleep(0.02)
    _edge_reset(handler)


def _edge_reset_mid_body(handler: _MisbehavingHandler, body: bytes) -> None:
    status, data = _edge_upstream(handler, body)
    _edge_no_delay(handler)
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(data[: len(data) // 2])
    time.sleep(0.02)
    _edge_reset(handler)


EDGE_MODES: dict[str, Callable[[_MisbehavingHandler, bytes], None]] = {
    "gzip-gzip-bomb": _edge_bomb("gzip"),
    "deflate-deflate-bomb": _edge_bomb("deflate"),
    "two-member-gzip": _edge_two_members,
    "early-413": _edge_early_413,
    "reset-mid-body": _edge_reset_mid_body,
}


class StrayServer:
    """Proxies every request to the emulator on a keep-alive connection and, after one answer
    in ``every``, sends a stray copy of it (its logits set to ``STRAY_BASE``) ``delay_ms``
    later. One thread per connection reads and writes, so it knows, for every message it
    sends, whether the request it will be taken for had begun to arrive (the window: any
    HTTP/1.1 client takes it) or not (it lands on an idle connection, which a client must
    not use again: a later request on that connection is a ``violation``)."""

    def __init__(self, upstream: Emulator, delay_ms: int, every: int) -> None:
        self.upstream = upstream
        self.delay = delay_ms / 1000
        self.every = every
        self.answers = 0
        self.strays = 0
        self.window = 0  # misplaced messages sent once the request they will be taken for began
        self.idle = 0  # misplaced messages sent while the connection was idle
        self.violations = 0  # requests sent on a connection that an idle message had reached
        self.gaps: list[float] = []  # seconds from such a message to the request after it
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_StrayConnection(self, sock).serve, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


class _StrayConnection:
    def __init__(self, server: StrayServer, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        self.buffer = b""
        self.parsed = 0  # requests read whole
        self.sent = 0  # messages sent; message j is taken as the answer to request j
        self.idle_sent: dict[int, float] = {}  # message number -> when it was sent
        self.closed = False

    def pull(self, wait: float = 0.0) -> None:
        """Read what has come, waiting up to ``wait`` for it; check the idle messages."""
        while not self.closed and select.select([self.sock], [], [], wait)[0]:
            chunk = self.sock.recv(65536)
            self.closed = not chunk
            self.buffer += chunk
            wait = 0.0
        began = self.parsed + (1 if self.buffer else 0)
        for j in [j for j in self.idle_sent if j < began]:
            sent = self.idle_sent.pop(j)
            with self.server.lock:
                self.server.violations += 1
                self.server.gaps.append(time.monotonic() - sent)

    def send(self, message: bytes, answers: int | None) -> None:
        """Send message number ``self.sent``: the answer to request ``answers``, or a stray."""
        self.pull()
        began = self.parsed + (1 if self.buffer else 0)
        self.sock.sendall(message)
        sent = time.monotonic()
        self.pull()  # a request that began meanwhile was written as the message landed
        began = max(began, self.parsed + (1 if self.buffer else 0))
        with self.server.lock:
            if answers == self.sent:
                pass  # in its place
            elif began > self.sent:
                self.server.window += 1
            else:
                self.server.idle += 1
                self.idle_sent[self.sent] = sent
        self.sent += 1

    def serve(self) -> None:
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream.port, timeout=30)
        pending: tuple[float, bytes] | None = None  # a stray: when it is due, and its bytes
        try:
            while not self.server.stop.is_set() and not self.closed:
                due = None if pending is None else max(pending[0] - time.monotonic(), 0.0)
                self.pull(0.2 if due is None else due)
                if pending is not None and time.monotonic() >= pending[0]:
                    self.send(pending[1], None)
                    pending = None
                while (request := _take_request(self.buffer)) is not None:
                    (path, headers, body), self.buffer = request
                    self.parsed += 1
                    upstream.request("POST", path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send(_stray_message(answer.status, data), self.parsed - 1)
                    with self.server.lock:
                        self.server.answers += 1
                        armed = self.server.answers % self.server.every == 1 % self.server.every
                        self.server.strays += armed
                    if armed and pending is None:
                        pending = (time.monotonic() + self.server.delay, _stray_of(data))
                    if pending is not None and time.monotonic() >= pending[0]:
                        self.send(pending[1], None)
                        pending = None
        except OSError:
            return
        finally:
            upstream.close()
            self.sock.close()


def _stray_message(status: int, data: bytes) -> bytes:
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}"
    return (head + "\r\n\r\n").encode() + data


def _stray_of(answer: bytes) -> bytes:
    try:
        parsed = json.loads(answer)
        for ranking in parsed.get("rankings", []):
            ranking["logit"] = STRAY_BASE
        answer = json.dumps(parsed).encode()
    except (ValueError, AttributeError, TypeError):
        pass
    return _stray_message(200, answer)


def _take_request(buffer: bytes) -> tuple[tuple[str, dict[str, str], bytes], bytes] | None:
    """The first whole request in ``buffer`` (path, headers to forward, body), and the rest."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].decode("latin-1").split("\r\n")
    fields = [line.split(":", 1) for line in lines[1:] if ":" in line]
    headers = {name.strip(): value.strip() for name, value in fields}
    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), 0))
    if len(buffer) < end + 4 + length:
        return None
    keep = ("authorization", "content-type", "accept")
    forwarded = {k: v for k, v in headers.items() if k.lower() in keep}
    body = buffer[end + 4 : end + 4 + length]
    return (lines[0].split(" ")[1], forwarded, body), buffer[end + 4 + length :]


def run_strays(args: argparse.Namespace, emulator: Emulator, scan: SecretScan) -> dict[str, Any]:
    """§2: back-to-back calls, a stray after every answer, for each delay and client."""
    rows: list[dict[str, Any]] = []
    if args.only and args.only.lower() not in "stray answers":
        return {"rows": rows, "wrong_outside_window": 0}
    own = Misbehaving(emulator)
    run = FaultRun(emulator, own, args.timeout, args.calls, 1, 1, 0, scan)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the server's threads share the GIL: let them look in time
    try:
        run.learn_expected()
        _stray_runs(args, run, rows)
    finally:
        sys.setswitchinterval(switch)
        own.close()
    return {
        "rows": rows,
        "wrong_outside_window": sum(r["wrong_outside_window"] + r["untyped"] for r in rows),
    }


def _stray_runs(args: argparse.Namespace, run: FaultRun, rows: list[dict[str, Any]]) -> None:
    for delay in STRAY_DELAYS_MS:
        for client in ("sync", "async"):
            server = StrayServer(run.emulator, delay, args.every)
            try:
                if client == "sync":
                    outcomes = _stray_calls(run, server.url, args.calls)
                else:
                    outcomes = asyncio.run(_stray_calls_async(run, server.url, args.calls))
                time.sleep(delay / 1000 + 0.05)  # the last stray goes out
            finally:
                server.close()
            row = _stray_row(run, delay, client, outcomes, server)
            rows.append(row)
            print(
                f"  stray {delay:2} ms {client:5} strays={row['strays_sent']} "
                f"wrong={row['wrong']} (window messages {row['messages_in_the_window']}, "
                f"idle {row['messages_on_an_idle_connection']}, used after one: "
                f"{row['used_within_1ms']} within 1 ms, {row['wrong_outside_window']} later; "
                f"{row['violation_gaps_us']} µs) "
                f"typed={row['typed_error']} "
                f"untyped={row['untyped']}",
                flush=True,
            )


def _stray_calls(run: FaultRun, url: str, calls: int) -> list[object]:
    outcomes: list[object] = []
    with run.sync_client(0) as client:
        for i in range(calls):
            query, documents = INPUTS[i % len(INPUTS)]
            try:
                outcomes.append(client.rank(query, list(documents), run.cfg(url)))
            except Exception as err:  # noqa: BLE001 - judged by _stray_row
                outcomes.append(err)
    return outcomes


async def _stray_calls_async(run: FaultRun, url: str, calls: int) -> list[object]:
    outcomes: list[object] = []
    headers = {"X-Nvidia-Api-Key": CANARY}
    async with run.async_client(0) as client:
        for i in range(calls):
            query, documents = INPUTS[i % len(INPUTS)]
            try:
                outcomes.append(
                    await client.rank(query, list(documents), run.cfg(url), headers=headers)
                )
            except Exception as err:  # noqa: BLE001 - judged by _stray_row
                outcomes.append(err)
    return outcomes


def _stray_row(
    run: FaultRun, delay: int, client: str, outcomes: list[object], server: StrayServer
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "delay_ms": delay,
        "client": client,
        "calls": len(outcomes),
        "correct": 0,
        "typed_error": 0,
        "untyped": 0,
        "wrong": 0,
        "strays_sent": server.strays,
        "messages_in_the_window": server.window,
        "messages_on_an_idle_connection": server.idle,
        "used_within_1ms": sum(gap < AT_THE_WRITE for gap in server.gaps),
        "wrong_outside_window": sum(gap >= AT_THE_WRITE for gap in server.gaps),
        "violation_gaps_us": [round(gap * 1e6) for gap in server.gaps[:10]],
        "examples": [],
    }
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException):
            run.scan.exception(outcome)
            row["typed_error" if isinstance(outcome, RerankerError) else "untyped"] += 1
        elif [s.score for s in outcome.document_scores] == run.expected[i % len(INPUTS)]:  # type: ignore[attr-defined]
            row["correct"] += 1
        else:
            row["wrong"] += 1
            row["examples"].append(f"call {i}: {[s.score for s in outcome.document_scores]!r}")  # type: ignore[attr-defined]
    row["examples"] = row["examples"][:3]
    return row


def stray_markdown(result: dict[str, Any]) -> str:
    stray = result.get("stray")
    if not stray or not stray["rows"]:
        return ""
    out = [
        "\nStray answers: after one answer in `--every`, a stray copy of it "
        f"(logits {STRAY_BASE}) follows on the keep-alive connection after the given delay; "
        "back-to-back calls, retries off. Each message the server sends lands either on an idle "
        "connection, which a client must not use again (a request on it more than 1 ms "
        "later counts as wrong; within 1 ms the stray landed as the request was written), or "
        "after the request it is taken for was written: the window no HTTP/1.1 client can "
        "close (docs/divergences.md, D-STRAY-ANSWER).\n\n"
        "| delay | client | calls | strays | wrong | messages in the window | idle "
        "| used within 1 ms | used later (wrong) | typed | untyped |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    ]
    for r in stray["rows"]:
        out.append(
            f"| {r['delay_ms']} ms | {r['client']} | {r['calls']} | {r['strays_sent']} | "
            f"{r['wrong']} | {r['messages_in_the_window']} | "
            f"{r['messages_on_an_idle_connection']} | {r['used_within_1ms']} | "
            f"{r['wrong_outside_window']} | "
            f"{r['typed_error']} | {r['untyped']} |\n"
        )
    return "".join(out)


# END transport-edges block
# =============================================================================================


# ---------------------------------------------------------------------------------------------
# Load


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def snapshot() -> tuple[int, int]:
    gc.collect()
    return open_fds(), rss_bytes()


def load_row(
    name: str,
    *,
    calls: int,
    errors: int,
    seconds: float,
    before: tuple[int, int],
    after: tuple[int, int],
    note: collections.Counter[str],
) -> dict[str, Any]:
    return {
        "load": name,
        "calls": calls,
        "errors": errors,
        "error_messages": dict(note.most_common(3)),
        "seconds": round(seconds, 2),
        "calls_per_s": round(calls / seconds, 1) if seconds else 0.0,
        "fds_before": before[0],
        "fds_after": after[0],
        "rss_before_mib": round(before[1] / 2**20, 1),
        "rss_after_mib": round(after[1] / 2**20, 1),
        "grew": after[0] > before[0] or after[1] - before[1] > RSS_GROWTH_LIMIT,
    }


def load_async(url: str, tasks: int, duration: float, warmup: float) -> dict[str, Any]:
    cfg = ClassBasedModuleConfig.for_settings({"model": MODEL, "baseURL": url})
    query, documents = INPUTS[0]
    counts = {"calls": 0, "errors": 0}
    notes: collections.Counter[str] = collections.Counter()

    async def phase(client: AsyncClient, seconds: float, count: bool) -> None:
        stop = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < stop:
                try:
                    await client.rank(query, list(documents), cfg)
                    if count:
                        counts["calls"] += 1
                except Exception as err:  # noqa: BLE001 - every failure is an error here
                    if count:
                        counts["errors"] += 1
                        notes[f"{type(err).__name__}: {err}"[:200]] += 1

        await asyncio.gather(*(worker() for _ in range(tasks)))

    async def main() -> tuple[tuple[int, int], tuple[int, int], float]:
        # The warm-up has a client of its own: both snapshots are taken with no client open.
        async with AsyncClient(CANARY, timeout=60, max_concurrency=tasks) as client:
            await phase(client, warmup, False)
        before = snapshot()
        async with AsyncClient(CANARY, timeout=60, max_concurrency=tasks) as client:
            started = time.monotonic()
            await phase(client, duration, True)
            took = time.monotonic() - started
        after = snapshot()
        return before, after, took

    before, after, took = asyncio.run(main())
    name = f"{tasks} concurrent calls, one AsyncClient"
    return load_row(
        name,
        calls=counts["calls"],
        errors=counts["errors"],
        seconds=took,
        before=before,
        after=after,
        note=notes,
    )


def load_threads(url: str, threads: int, duration: float, warmup: float) -> dict[str, Any]:
    cfg = ClassBasedModuleConfig.for_settings({"model": MODEL, "baseURL": url})
    query, documents = INPUTS[1]
    lock = threading.Lock()
    counts = {"calls": 0, "errors": 0}
    notes: collections.Counter[str] = collections.Counter()

    def phase(client: Client, seconds: float, count: bool) -> None:
        stop = time.monotonic() + seconds

        def worker() -> None:
            while time.monotonic() < stop:
                try:
                    client.rank(query, list(documents), cfg)
                    ok = True
                except Exception as err:  # noqa: BLE001 - every failure is an error here
                    ok = False
                    line = f"{type(err).__name__}: {err}"[:200]
                if count:
                    with lock:
                        counts["calls" if ok else "errors"] += 1
                        if not ok:
                            notes[line] += 1

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    with Client(CANARY, timeout=60) as client:  # the warm-up's own client
        phase(client, warmup, False)
    before = snapshot()
    with Client(CANARY, timeout=60) as client:
        started = time.monotonic()
        phase(client, duration, True)
        took = time.monotonic() - started
    after = snapshot()
    name = f"{threads} threads sharing one Client"
    return load_row(
        name,
        calls=counts["calls"],
        errors=counts["errors"],
        seconds=took,
        before=before,
        after=after,
        note=notes,
    )


def load_clients(url: str, clients: int, duration: float, *, call: bool) -> dict[str, Any]:
    """Clients created (used for one call if ``call``) and closed, one after another."""
    cfg = ClassBasedModuleConfig.for_settings({"model": MODEL, "baseURL": url})
    query, documents = INPUTS[2]
    notes: collections.Counter[str] = collections.Counter()
    calls = errors = 0

    def one() -> bool:
        with Client(CANARY, timeout=60) as client:
            try:
                if call:
                    client.rank(query, list(documents), cfg)
                return True
            except Exception as err:  # noqa: BLE001 - every failure is an error here
                notes[f"{type(err).__name__}: {err}"[:200]] += 1
                return False

    for _ in range(min(50, clients)):
        one()
    before = snapshot()
    started = time.monotonic()
    stop = started + duration
    while calls + errors < clients and time.monotonic() < stop:
        if one():
            calls += 1
        else:
            errors += 1
    took = time.monotonic() - started
    after = snapshot()
    used = "used for one call and closed" if call else "closed unused"
    name = f"{calls + errors} Clients created, {used}"
    return load_row(
        name, calls=calls, errors=errors, seconds=took, before=before, after=after, note=notes
    )


def run_load(args: argparse.Namespace, log_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    emulator = Emulator(log_dir / "emulator-load.log", quiet=True, request_log=False)
    warmup = min(5.0, max(0.5, args.duration / 10))
    try:
        runs: tuple[Callable[[], dict[str, Any]], ...] = (
            lambda: load_async(emulator.url, args.tasks, args.duration, warmup),
            lambda: load_threads(emulator.url, 16, args.duration, warmup),
            lambda: load_clients(emulator.url, args.clients, args.duration, call=False),
            lambda: load_clients(emulator.url, args.clients, args.duration, call=True),
        )
        for run in runs:
            row = run()
            rows.append(row)
            print(
                f"  {row['load']:40} {row['calls_per_s']:8.1f} calls/s errors={row['errors']} "
                f"fds {row['fds_before']}->{row['fds_after']} "
                f"RSS {row['rss_before_mib']}->{row['rss_after_mib']} MiB",
                flush=True,
            )
    finally:
        emulator.close()
    return rows


# ---------------------------------------------------------------------------------------------
# SSRF


def ssrf_urls(port: int) -> list[tuple[str, str]]:
    """(what, base URL) for every refusal to show; every address points at the listener."""
    p = port
    rows = [
        ("loopback", f"https://127.0.0.1:{p}"),
        ("loopback, short form", f"https://127.1:{p}"),
        ("loopback, three parts", f"https://127.0.1:{p}"),
        ("loopback, decimal", f"https://2130706433:{p}"),
        ("loopback, hex", f"https://0x7f000001:{p}"),
        ("loopback, hex first part", f"https://0x7f.0.0.1:{p}"),
        ("loopback, hex short", f"https://0x7f.1:{p}"),
        ("loopback, octal", f"https://0177.0.0.1:{p}"),
        ("loopback, octal single number", f"https://017700000001:{p}"),
        ("loopback, zero-padded", f"https://127.000.000.001:{p}"),
        ("loopback, other address", f"https://127.255.255.254:{p}"),
        ("unspecified", f"https://0.0.0.0:{p}"),
        ("unspecified, short", f"https://0:{p}"),
        ("private 10/8", f"https://10.0.0.1:{p}"),
        ("private 10/8, octal", f"https://012.0.0.1:{p}"),
        ("private 10/8, decimal", f"https://167772161:{p}"),
        ("private 10/8, hex", f"https://0xa.0.0.1:{p}"),
        ("private 172.16/12", f"https://172.16.0.1:{p}"),
        ("private 172.16/12, top", f"https://172.31.255.255:{p}"),
        ("private 192.168/16", f"https://192.168.0.1:{p}"),
        ("private 192.168/16, decimal", f"https://3232235521:{p}"),
        ("private 192.168/16, hex", f"https://0xc0a80001:{p}"),
        ("link-local (metadata)", f"https://169.254.169.254:{p}"),
        ("link-local, decimal", f"https://2852039166:{p}"),
        ("link-local, hex", f"https://0xa9fea9fe:{p}"),
        ("link-local, octal", f"https://0251.0376.0251.0376:{p}"),
        ("shared 100.64/10 (CGNAT)", f"https://100.64.0.1:{p}"),
        ("benchmarking 198.18/15", f"https://198.18.0.1:{p}"),
        ("documentation 192.0.2/24", f"https://192.0.2.1:{p}"),
        ("multicast", f"https://224.0.0.1:{p}"),
        ("reserved 240/4", f"https://240.0.0.1:{p}"),
        ("broadcast", f"https://255.255.255.255:{p}"),
        ("IPv6 loopback", f"https://[::1]:{p}"),
        ("IPv6 loopback, long form", f"https://[0:0:0:0:0:0:0:1]:{p}"),
        ("IPv6 unspecified", f"https://[::]:{p}"),
        ("IPv4-mapped loopback", f"https://[::ffff:127.0.0.1]:{p}"),
        ("IPv4-mapped loopback, hex", f"https://[::ffff:7f00:1]:{p}"),
        ("IPv4-mapped private", f"https://[::ffff:10.0.0.1]:{p}"),
        ("IPv4-mapped metadata", f"https://[::ffff:169.254.169.254]:{p}"),
        ("IPv4-compatible loopback", f"https://[::127.0.0.1]:{p}"),
        ("NAT64 of loopback", f"https://[64:ff9b::7f00:1]:{p}"),
        ("IPv6 link-local, zone id", f"https://[fe80::1%25eth0]:{p}"),
        ("IPv6 link-local, zone lo", f"https://[fe80::1%25lo]:{p}"),
        ("IPv6 unique local fc00::/7", f"https://[fc00::1]:{p}"),
        ("IPv6 unique local fd00::", f"https://[fd12:3456::1]:{p}"),
        ("IPv6 multicast", f"https://[ff02::1]:{p}"),
        ("IPv6 documentation", f"https://[2001:db8::1]:{p}"),
        ("blocked name localhost", f"https://localhost:{p}"),
        ("blocked name, upper case", f"https://LOCALHOST:{p}"),
        ("blocked name, trailing dot", f"https://localhost.:{p}"),
        ("blocked suffix .internal", f"https://metadata.google.internal:{p}"),
        ("blocked suffix .local", f"https://printer.local:{p}"),
        ("blocked suffix .localdomain", f"https://host.localdomain:{p}"),
        ("user info before a loopback host", f"https://integrate.api.nvidia.com@127.0.0.1:{p}"),
        ("name resolving to 127.0.0.1", f"https://loopback.example.test:{p}"),
        ("name resolving to ::1", f"https://v6-loopback.example.test:{p}"),
        ("name resolving to ::ffff:127.0.0.1", f"https://mapped.example.test:{p}"),
        ("name resolving to public and loopback", f"https://mixed.example.test:{p}"),
        ("DNS rebinding: public at check, loopback at connect", f"https://rebind.example.test:{p}"),
        ("plain http to a public name", "http://integrate.api.nvidia.com"),
    ]
    return rows


class FakeResolver:
    """DNS without a network: names of the table, numeric hosts as the C library reads them."""

    PUBLIC = "93.184.216.34"

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def __call__(self, host: str) -> list[str]:
        with self.lock:
            self.calls[host] += 1
            n = self.calls[host]
        host = host.rstrip(".").lower()
        names = {
            "localhost": ["127.0.0.1", "::1"],  # as /etc/hosts has it
            "loopback.example.test": ["127.0.0.1"],
            "v6-loopback.example.test": ["::1"],
            "mapped.example.test": ["::ffff:127.0.0.1"],
            "mixed.example.test": [self.PUBLIC, "127.0.0.1"],
        }
        if host == "rebind.example.test":
            return [self.PUBLIC] if n == 1 else ["127.0.0.1"]
        if host in names:
            return names[host]
        with contextlib.suppress(ValueError):
            return [str(ipaddress.ip_address(host.split("%")[0]))]
        with contextlib.suppress(OSError):
            return [socket.inet_ntoa(socket.inet_aton(host))]  # 127.1, 0x7f.1, 2130706433…
        raise ResolveError(f"lookup {host}: no such host")


def run_ssrf(scan: SecretScan) -> dict[str, Any]:
    listener = Listener()
    rows: list[dict[str, Any]] = []
    old = os.environ.get("MODULES_VALIDATE_BASE_URL")
    os.environ["MODULES_VALIDATE_BASE_URL"] = "true"
    try:
        for what, url in ssrf_urls(listener.port):
            resolver = FakeResolver()
            with Client(CANARY, timeout=3, resolver=resolver) as client:
                scan.text("client repr", repr(client))
                started = time.monotonic()
                try:
                    client.rank("q", ["a passage"], headers={"X-Nvidia-Baseurl": url})
                    outcome, refused = "answered (NOT refused)", False
                except RerankerError as err:
                    scan.exception(err)
                    outcome, refused = f"{type(err).__name__}: {err}", True
                except Exception as err:  # noqa: BLE001 - an untyped error is a finding
                    scan.exception(err)
                    outcome, refused = f"untyped {type(err).__name__}: {err}", False
            rows.append(
                {
                    "case": what,
                    "url": url.replace(str(listener.port), "PORT"),
                    "refused": refused,
                    "typed": refused,
                    "outcome": outcome.replace(str(listener.port), "PORT").splitlines()[0],
                    "seconds": round(time.monotonic() - started, 3),
                }
            )
    finally:
        if old is None:
            os.environ.pop("MODULES_VALIDATE_BASE_URL", None)
        else:
            os.environ["MODULES_VALIDATE_BASE_URL"] = old
        listener.close()
    return {
        "rows": rows,
        "refused": sum(r["refused"] for r in rows),
        "total": len(rows),
        "listener_connections": listener.connections,
    }


# ---------------------------------------------------------------------------------------------
# BEGIN limiter-edges block: Retry-After with no timeout, a tiny
# requestsPerMinute, the limit on a transport of the user's own, waitReady's last answer, and
# the limiter's fairness (16 callers at 600 a minute, a 2 s timeout). Each is a row of FAULTS
# (spec ``edge:…``) run as the others are (sync and async, retries off and on), with the client
# setting it needs; a typed error without its expected text, or two requests closer together
# than the limit allows, counts as wrong. run_faults hands an ``edge:`` row to edge_run.

import itertools  # noqa: E402

from nim_emulator import EmulatorConfig, create_app  # noqa: E402
from nim_emulator.testing import AsyncEmulatorTransport, EmulatorTransport  # noqa: E402


@dataclass(frozen=True)
class EdgeFault:
    name: str
    spec: str = ""
    """An emulator fault, armed before one call in ``--every`` (all calls if ``standing``)."""
    timeout: float | None = None
    """The client's timeout for this fault (``0``: none); ``None``: the run's."""
    settings: tuple[tuple[str, object], ...] = ()
    """Class settings given with every call."""
    expect: str = ""
    """Text every typed error must hold; one without it counts as wrong."""
    standing: bool = False
    where: str = "emulator"
    """``emulator``, ``refused`` (a port nobody listens on) or ``in-process`` (the emulator's
    own httpx transports, which report no send)."""
    calls: int = 1_000_000
    """At most this many calls per run in a full run (a slow fault); ``--quick`` runs them all."""
    spacing: float | None = None
    """The limit's interval: the server must see no two requests closer than 90 % of this."""
    callers: int = 1
    """Callers at once (threads of one ``Client``, tasks of one ``AsyncClient``)."""


EDGE_FAULTS: tuple[EdgeFault, ...] = (
    EdgeFault(
        "503 with Retry-After: 1e9, no timeout",
        "status=503,retry-after=1000000000",
        timeout=0,
        expect="connection to NVIDIA API failed with status: 503",
    ),
    EdgeFault(
        "503 with Retry-After: 9.3e9, no timeout",
        "status=503,retry-after=9300000000",
        timeout=0,
        expect="connection to NVIDIA API failed with status: 503",
    ),
    EdgeFault(
        "requestsPerMinute 1e-300",
        settings=(("requestsPerMinute", 1e-300),),
        expect="requestsPerMinute must be at least 0.001",
    ),
    EdgeFault(
        "requestsPerMinute 300 on an in-process transport",
        timeout=0.1,
        settings=(("requestsPerMinute", 300),),
        where="in-process",
        calls=40,
        spacing=0.2,
    ),
    EdgeFault(
        "requestsPerMinute 600, 16 callers, timeout 2 s",
        timeout=2.0,
        settings=(("requestsPerMinute", 600),),
        callers=16,
    ),
    EdgeFault(
        "waitReady 0.1 s, the NIM answers 503 throughout",
        "status=503,path=/v1/health/ready",
        settings=(("waitReady", 0.1),),
        expect="last answered status 503",
        standing=True,
        calls=40,
    ),
    EdgeFault(
        "waitReady 0.1 s, connection refused throughout",
        settings=(("waitReady", 0.1),),
        expect="connect: connection refused",
        where="refused",
        calls=40,
    ),
)
_EDGE = {f"edge:{fault.name}": fault for fault in EDGE_FAULTS}
FAULTS = (*FAULTS, *((fault.name, spec, False) for spec, fault in _EDGE.items()))


def edge_run(run: FaultRun, spec: str) -> EdgeRun | None:
    """The runner of an ``edge:`` row of FAULTS, sharing ``run``'s servers; ``None`` for others."""
    fault = _EDGE.get(spec)
    if fault is None:
        return None
    return EdgeRun(
        run.emulator,
        run.own,
        timeout=run.timeout if fault.timeout is None else fault.timeout,
        calls=run.calls if run.calls <= 12 else min(run.calls, fault.calls),
        every=run.every,
        every_slow=run.every_slow,
        slow_ms=run.slow_ms,
        scan=run.scan,
        expected=run.expected,
        fault=fault,
    )


@dataclass
class EdgeRun(FaultRun):
    """One :class:`EdgeFault` through one client kind, as :class:`FaultRun` runs a fault."""

    fault: EdgeFault = EdgeFault("")
    app: Any = None
    """The in-process emulator's app (``where="in-process"``), a fresh one per run."""

    def cfg(self, base_url: str) -> ClassBasedModuleConfig:
        settings = {"model": MODEL, "baseURL": base_url, **dict(self.fault.settings)}
        return ClassBasedModuleConfig.for_settings(settings)

    def sync_client(self, retries: int) -> Client:
        transport = None if self.app is None else EmulatorTransport(self.app)
        return Client(CANARY, timeout=self.timeout, retries=retries, transport=transport)

    def async_client(self, retries: int) -> AsyncClient:
        transport = None if self.app is None else AsyncEmulatorTransport(self.app)
        return AsyncClient("", timeout=self.timeout, retries=retries, transport=transport)

    def _arm(self, spec: str, i: int, slow: bool) -> bool:
        if not spec or self.fault.standing:
            return False
        return super()._arm(spec, i, slow)

    def _seen(self, spec: str) -> int:
        if self.app is not None:
            return len(self.app.state.emulator.requests)
        return 0 if self.fault.where == "refused" else self.emulator.seen()

    def _judge(self, tally: Tally, i: int, started: float, outcome: object, requests: int) -> None:
        super()._judge(tally, i, started, outcome, requests)
        if isinstance(outcome, RerankerError) and self.fault.expect not in str(outcome):
            tally.typed_error -= 1  # typed, but not what it should say: wrong
            tally.wrong_result += 1
            line = masked(f"{type(outcome).__name__}: {outcome}", [self.emulator.url])
            tally.wrong_examples.append(f"call {i}: {line}"[:300])

    def run(self, name: str, spec: str, slow: bool, client: str, retries: int) -> Tally:
        fault = self.fault
        tally = Tally(name, spec, client, retries)
        if fault.where == "in-process":
            self.app = create_app(EmulatorConfig(api_key=CANARY))
            base = "http://nim-emulator.test"
        elif fault.where == "refused":
            base = f"http://127.0.0.1:{free_port()}"
        else:
            base = self.emulator.url
        if fault.standing:
            self.emulator.arm(fault.spec)
        try:
            if fault.callers > 1:
                self._run_callers(tally, base, retries, asynchronous=client == "async")
            elif client == "sync":
                self._run_sync(tally, fault.spec, slow, base, retries)
            else:
                asyncio.run(self._run_async(tally, fault.spec, slow, base, retries))
        finally:
            self.emulator.disarm()
        if fault.spacing is not None and self.app is not None:
            arrived = sorted(r.received_at for r in self.app.state.emulator.requests)
            least = fault.spacing * 0.9  # the server reads its clock a little later
            close = [b - a for a, b in itertools.pairwise(arrived) if b - a < least]
            tally.wrong_result += len(close)
            tally.wrong_examples += [f"two requests {gap * 1000:.1f} ms apart" for gap in close]
        return tally

    def _run_callers(self, tally: Tally, base: str, retries: int, *, asynchronous: bool) -> None:
        """``calls`` calls from ``callers`` threads (or tasks) at once, taking the next in turn."""
        calls = iter(range(self.calls))
        lock = threading.Lock()
        guard = self.calls * 2 + self.timeout + SLACK + 10

        def judged(i: int, started: float, outcome: object) -> None:
            with lock:
                self._judge(tally, i, started, outcome, 1)

        if not asynchronous:
            client = self.sync_client(retries)
            self.scan.text("client repr", repr(client))

            def worker() -> None:
                for i in calls:
                    query, documents = INPUTS[i % len(INPUTS)]
                    started = time.monotonic()
                    try:
                        outcome: object = client.rank(query, list(documents), self.cfg(base))
                    except Exception as err:  # noqa: BLE001 - judged below
                        outcome = err
                    judged(i, started, outcome)

            threads = [
                threading.Thread(target=worker, daemon=True) for _ in range(self.fault.callers)
            ]
            for thread in threads:
                thread.start()
            ends = time.monotonic() + guard
            for thread in threads:
                thread.join(max(ends - time.monotonic(), 0.0))
            stuck = sum(thread.is_alive() for thread in threads)
            for _ in range(stuck):  # a caller still in a call: the harness's guard fired
                judged(-1, ends - guard, _NeverReturnedError(f"not returned after {guard} s"))
            if not stuck:
                client.close()
            return

        async def main() -> None:
            headers = {"X-Nvidia-Api-Key": CANARY}
            async with self.async_client(retries) as client:
                self.scan.text("client repr", repr(client))

                async def worker() -> None:
                    for i in calls:
                        query, documents = INPUTS[i % len(INPUTS)]
                        started = time.monotonic()
                        try:
                            outcome: object = await client.rank(
                                query, list(documents), self.cfg(base), headers=headers
                            )
                        except Exception as err:  # noqa: BLE001 - judged below
                            outcome = err
                        judged(i, started, outcome)

                tasks = [asyncio.ensure_future(worker()) for _ in range(self.fault.callers)]
                _, stuck = await asyncio.wait(tasks, timeout=guard)
                for task in stuck:
                    task.cancel()
                    judged(-1, time.monotonic() - guard, _NeverReturnedError("not returned"))

        asyncio.run(main())


# END limiter-edges block
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Report


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


FAULT_HEADER = (
    "| fault | client | retries | correct | after a retry | typed error | wrong | hang | untyped "
    "| slowest s | most common typed error |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
)


def summary(rows: Sequence[dict[str, Any]]) -> str:
    """One line per fault: the sync and async runs added up, retries off beside retries on."""
    out = [
        "| fault | retries off: correct / after a retry / typed error "
        "| retries on: correct / after a retry / typed error | wrong | hang | untyped "
        "| typed error (retries off) |\n|---|---|---|---:|---:|---:|---|\n"
    ]
    by_fault: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_fault.setdefault(row["fault"], []).append(row)

    def cell(group: list[dict[str, Any]]) -> str:
        keys = ("correct", "correct_after_retry", "typed_error")
        return " / ".join(str(sum(r[k] for r in group)) for k in keys)

    for fault, group in by_fault.items():
        off = [r for r in group if r["retries"] == 0]
        on = [r for r in group if r["retries"] != 0]
        messages = [r["typed_error_message"] for r in off + on if r["typed_error_message"]]
        message = (messages[0] if messages else "—").replace("|", "\\|")
        if len(message) > 110:
            message = message[:107] + "…"
        zero = [sum(r[k] for r in group) for k in MUST_BE_ZERO]
        out.append(
            f"| {fault} | {cell(off)} | {cell(on)} | {zero[0]} | {zero[1]} | {zero[2]} "
            f"| {message} |\n"
        )
    return "".join(out)


def markdown(result: dict[str, Any]) -> str:
    out = [
        f"Made by `{result['command']}` on {result['date']} ({result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}); client timeout {result['settings']['timeout']}"
        f" s, a hang is a call longer than timeout + {SLACK} s.\n\n"
    ]
    out.append(summary(result["faults"]))
    out.append("\nEvery run (sync and async client, retries off and on):\n\n")
    out.append(FAULT_HEADER)
    for row in result["faults"]:
        message = (row["typed_error_message"] or "").replace("|", "\\|")
        if len(message) > 110:
            message = message[:107] + "…"
        out.append(
            f"| {row['fault']} | {row['client']} | {row['retries']} | {row['correct']} | "
            f"{row['correct_after_retry']} | {row['typed_error']} | {row['wrong_result']} | "
            f"{row['hang']} | {row['untyped']} | {row['slowest_s']} | {message} |\n"
        )
    zero = result["zero"]
    out.append(
        f"\nTotals over {zero['calls']} calls: wrong result {zero['wrong_result']}, hang "
        f"{zero['hang']}, untyped exception {zero['untyped']}.\n\n"
    )
    out.append(
        "| load | calls | errors | calls/s | open fds before → after | RSS MiB before → after "
        "| growth |\n|---|---:|---:|---:|---|---|---|\n"
    )
    for row in result["load"]:
        out.append(
            f"| {row['load']} | {row['calls']} | {row['errors']} | {row['calls_per_s']} | "
            f"{row['fds_before']} → {row['fds_after']} | "
            f"{row['rss_before_mib']} → {row['rss_after_mib']} | "
            f"{'**yes**' if row.get('grew') else 'none'} |\n"
        )
    ssrf = result["ssrf"]
    out.append(
        f"\nSSRF, `MODULES_VALIDATE_BASE_URL=true`, base URL in `X-Nvidia-Baseurl`: "
        f"{ssrf['refused']} of {ssrf['total']} refused; connections that reached the listener "
        f"on 127.0.0.1: {ssrf['listener_connections']}.\n\n"
        "| case | base URL | outcome |\n|---|---|---|\n"
    )
    for row in ssrf["rows"]:
        outcome = row["outcome"].replace("|", "\\|")
        out.append(f"| {row['case']} | `{row['url']}` | {outcome} |\n")
    out.append(stray_markdown(result))  # the transport-edges block
    secrets = result["secrets"]
    scanned = ", ".join(f"{n} {what}" for what, n in sorted(secrets["scanned"].items()))
    out.append(
        f"\nSecrets: key `{CANARY[:13]}…` found {secrets['hits']} times in "
        f"{sum(secrets['scanned'].values())} texts scanned ({scanned}).\n"
    )
    return "".join(out)


def scan_secrets_at_rest(scan: SecretScan, log_dir: Path, emulator: Emulator | None) -> None:
    for path in sorted(log_dir.glob("*.log")):
        scan.text("emulator output", path.read_bytes())
    if emulator is not None:
        scan.text(
            "emulator request log", json.dumps(emulator.control("GET", "/_emulator/requests"))
        )
    for folder in ("cassettes", "contracts"):
        if (ROOT / folder).is_dir():
            scan.files(f"{folder}/ file", ROOT / folder)
    results = HERE / "results"
    if results.is_dir():
        scan.files("results file", results)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and fast: a smoke run")
    parser.add_argument("--calls", type=int, help="rerank calls per fault, client and retries")
    parser.add_argument("--every", type=int, help="arm a fast fault before one call in N")
    parser.add_argument("--every-slow", type=int, help="arm a slow fault before one call in N")
    parser.add_argument("--timeout", type=float, help="the client's timeout, seconds")
    parser.add_argument("--retries", type=int, default=3, help="the retries of the 'on' runs")
    parser.add_argument("--duration", type=float, help="seconds of each load run")
    parser.add_argument("--tasks", type=int, default=1000, help="concurrent async calls")
    parser.add_argument("--clients", type=int, help="clients created and closed")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    parser.add_argument("--only", help="run the faults whose name contains this text")
    parser.add_argument("--render", type=Path, help="only write the Markdown of a results JSON")
    parser.add_argument("--skip", action="append", default=[], choices=("faults", "load", "ssrf"))
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "calls": 12 if quick else 200,
        "every": 4 if quick else 10,
        "every_slow": 12 if quick else 50,
        "timeout": 0.5 if quick else 1.5,
        "duration": 2.0 if quick else 60.0,
        "clients": 100 if quick else 10_000,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if quick and args.tasks == 1000:
        args.tasks = 100
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        args.render.with_suffix(".md").write_text(markdown(json.loads(args.render.read_text())))
        return 0
    command = "make faults" if not args.quick else "python benchmarks/faults.py --quick"
    started = time.monotonic()
    scan = SecretScan()
    log_dir = Path(tempfile.mkdtemp(prefix="faults-"))
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "machine": machine(),
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"
        },
        "faults": [],
        "load": [],
        "ssrf": {"rows": [], "refused": 0, "total": 0, "listener_connections": 0},
    }
    emulator = Emulator(log_dir / "emulator-faults.log", quiet=False, request_log=True)
    try:
        with captured_logs(scan):
            if "faults" not in args.skip:
                print("faults:", flush=True)
                result["faults"] = [t.row() for t in run_faults(args, emulator, scan)]
                print("stray answers:", flush=True)  # the transport-edges block
                result["stray"] = run_strays(args, emulator, scan)
            if "ssrf" not in args.skip:
                print("ssrf:", flush=True)
                result["ssrf"] = run_ssrf(scan)
    finally:
        emulator.close()
    if "load" not in args.skip:
        print("load:", flush=True)
        result["load"] = run_load(args, log_dir)
    scan_secrets_at_rest(scan, log_dir, None)
    rows = result["faults"]
    result["zero"] = {
        "calls": sum(r["calls"] for r in rows),
        **{key: sum(r[key] for r in rows) for key in MUST_BE_ZERO},
        "load_errors": sum(r["errors"] for r in result["load"]),
        "load_growth": sum(bool(r["grew"]) for r in result["load"]),
        "ssrf_not_refused": result["ssrf"]["total"] - result["ssrf"]["refused"],
        "ssrf_listener_connections": result["ssrf"]["listener_connections"],
    }
    result["seconds"] = round(time.monotonic() - started, 1)
    stamp = datetime.date.today().isoformat() + ("-quick" if args.quick else "")
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"faults-{stamp}.json"
    # The results are scanned too: written once without the count, scanned, then with it.
    result["secrets"] = {"hits": len(scan.hits), "scanned": dict(scan.scanned)}
    scan.text("results JSON", json.dumps(result))
    result["secrets"] = {
        "hits": len(scan.hits),
        "where": sorted(set(scan.hits)),
        "scanned": dict(scan.scanned),
    }
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    md_path = json_path.with_suffix(".md")
    md_path.write_text(markdown(result))
    zero = result["zero"]
    print(
        f"wrote {json_path} and {md_path} in {result['seconds']} s: wrong {zero['wrong_result']}, "
        f"hang {zero['hang']}, untyped {zero['untyped']}, load errors {zero['load_errors']}, "
        f"load growth {zero['load_growth']}, "
        f"SSRF not refused {zero['ssrf_not_refused']}, listener connections "
        f"{zero['ssrf_listener_connections']}, secret hits {result['secrets']['hits']}"
    )
    bad = sum(v for k, v in zero.items() if k != "calls") + result["secrets"]["hits"]
    bad += result.get("stray", {}).get("wrong_outside_window", 0)  # the transport-edges block
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
