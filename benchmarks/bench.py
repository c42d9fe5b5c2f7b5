"""``make bench``: the port, the CLI, two floors and the peers, side by side, in one run.

One loopback server answers every client after ``--latency-ms``: benchmarks/standin_nim.c,
built with ``cc -O2`` into a temporary directory when a compiler is there, else
benchmarks/standin_nim.py (``--standin c|python|auto``; the same scores, backlog 4 096,
its own CPU measured). Each client
runs in a process of its own (benchmarks/_bench_worker.py), started once and
kept; for every workload each client is warmed up, then the repetitions are
interleaved, one call per client in turn, the order rotated each round, so that
machine drift hits all alike. Per call: wall time, client CPU (user+sys), peak
RSS over the RSS before the call, requests and TCP connections the server saw,
and the server's CPU.

Workloads: 512, 1 000, 10 000 and 100 000 passages of about 200 characters,
and 1 000 000 at 0 ms for the port and the raw-socket floor. Haystack runs only up to 512
passages (it sends everything in one request, which a real NIM refuses), the
peers' defaults up to 10 000 (32 or 64 passages per request, one request at a
time: a call on 100 000 would take minutes). The peers run in their own venv,
benchmarks/.peers-venv, made here with pip on first use; matplotlib, for the
plot, goes there too.

Writes benchmarks/results/<date>.json (machine info, every repetition,
summaries, the targets), <date>.md (the table) and <date>.png (wall time
against passages, log-log), and prints the table.

    python benchmarks/bench.py [--latency-ms 50] [--reps 5] [--quick] [--no-peers]
        [--standin auto|c|python]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench_report as report
from _bench_worker import CHUNK, QUERY, passages

HERE = Path(__file__).resolve().parent
PEERS_VENV = HERE / ".peers-venv"
PEER_PINS = (
    "langchain-nvidia-ai-endpoints==1.5.0",
    "llama-index-postprocessor-nvidia-rerank==0.7.0",
    "nvidia-haystack==3.0.0",
    "matplotlib",
)
PORT_CLIENTS = ("port-sync-default", "port-sync-all", "port-async-default", "port-async-all", "cli")
FLOORS = ("floor-httpx", "floor-socket")
PEERS = (
    "langchain-default",
    "langchain-512",
    "llamaindex-default",
    "llamaindex-512",
    "haystack-default",
)
BIG = ("port-sync-default", "port-sync-all", "port-async-default", "port-async-all", "floor-socket")
"""The clients of the 1 000 000-passage workload, at 0 ms: the port and the raw-socket floor
(httpx's pool, with 1 954 requests in flight, spends minutes of CPU per call on itself)."""


def runs_at(client: str, count: int, peer_max: int) -> bool:
    if client == "haystack-default":
        return count <= 512
    if client in ("langchain-default", "llamaindex-default"):
        return count <= peer_max
    if client == "cli":
        return count <= 100_000
    return True


def peers_python(install: bool) -> Path | None:
    """The peers' venv interpreter, made and filled on first use; None if that fails."""
    python = PEERS_VENV / "bin" / "python"
    marker = PEERS_VENV / ".installed"
    if marker.exists():
        return python
    if not install:
        return None
    print(f"making {PEERS_VENV} for the peers (once) …", flush=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PINS], check=True)
    except (subprocess.CalledProcessError, OSError) as err:
        print(f"the peers' venv could not be made ({err}); running without the peers")
        return None
    marker.write_text("\n".join(PEER_PINS) + "\n")
    return python


def build_c_standin(directory: Path) -> tuple[Path, str]:
    """benchmarks/standin_nim.c compiled with ``cc -O2`` into directory; the binary and what
    built it. Raises RuntimeError without a compiler or when the build fails."""
    cc = shutil.which("cc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) on PATH")
    binary = directory / "standin_nim"
    done = subprocess.run(
        [cc, "-O2", "-o", str(binary), str(HERE / "standin_nim.c")],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cc -O2 benchmarks/standin_nim.c failed: {done.stderr.strip()[-500:]}")
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return binary, (version.stdout.splitlines() or ["cc"])[0]


class Server:
    """The stand-in NIM in a child process: ``kind`` is "c", "python" or "auto" (C when it
    builds, else Python)."""

    def __init__(self, latency_ms: float, kind: str = "auto") -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bench-standin-"))
        self.kind, self.compiler = "python", ""
        command = [sys.executable, str(HERE / "standin_nim.py")]
        if kind in ("c", "auto"):
            try:
                binary, self.compiler = build_c_standin(self.directory)
                command, self.kind = [str(binary)], "c"
            except RuntimeError as err:
                if kind == "c":
                    shutil.rmtree(self.directory, ignore_errors=True)
                    raise
                print(f"the C stand-in is not available ({err}); using the Python one", flush=True)
        self.source = f"benchmarks/standin_nim.{'c' if self.kind == 'c' else 'py'}"
        self.process = subprocess.Popen(
            [*command, "--latency-ms", str(latency_ms)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().rsplit(" ", 1)[-1].strip()
        self.host, port = self.url.removeprefix("http://").split(":")
        self.port = int(port)

    def get(self, target: str) -> dict[str, Any]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request("GET", target)
            answer: dict[str, Any] = json.loads(connection.getresponse().read())
            return answer
        finally:
            connection.close()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


class Worker:
    def __init__(self, client: str, python: Path, url: str) -> None:
        self.client = client
        self.process = subprocess.Popen(
            [str(python), str(HERE / "_bench_worker.py"), client, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(HERE)},
        )

    def send(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.client}: the worker died (exit {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, BrokenPipeError, ValueError):
            self.send(op="quit")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def request_json_bytes(count: int) -> int:
    docs = passages(count)
    total = 0
    for i in range(0, count, CHUNK):
        total += len(
            json.dumps(
                {
                    "model": "nvidia/rerank-qa-mistral-4b",
                    "query": {"text": QUERY},
                    "passages": [{"text": d} for d in docs[i : i + CHUNK]],
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        )
    return total


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": model,
        "cpus": len(os.sched_getaffinity(0)),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "load_average_start": os.getloadavg(),
        "commit": commit,
        "command": [Path(sys.executable).name, *sys.argv],
    }


def compile_bytecode() -> str:
    """Compile the port's package as a wheel install has it; says what was compiled."""
    spec = importlib.util.find_spec("reranker_nvidia")
    if spec is None or not spec.submodule_search_locations:
        return "reranker_nvidia not found"
    folder = next(iter(spec.submodule_search_locations))
    subprocess.run([sys.executable, "-m", "compileall", "-q", folder], check=False)
    return f"python -m compileall -q {folder}, then a warm-up call of the CLI"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--reps", type=int, default=5, help="timed calls per cell (default 5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run in seconds: 512 and 2 000 passages at 5 ms, 20 000 "
        "at 0 ms, 2 repetitions, no peers",
    )
    parser.add_argument("--no-peers", action="store_true", help="leave the peers out")
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results",
        help="where the results go (default benchmarks/results)",
    )
    parser.add_argument("--clients", default="", help="comma-separated subset of the clients")
    parser.add_argument(
        "--workloads",
        default="",
        help="comma-separated passage counts (default 512,1000,10000,100000)",
    )
    parser.add_argument(
        "--big", type=int, default=None, help="the 0 ms workload (default 1000000; 0: none)"
    )
    parser.add_argument(
        "--peer-max",
        type=int,
        default=100_000,
        help="the largest workload for LangChain's and LlamaIndex's defaults (default 100000: "
        "about 25 minutes more than 10000)",
    )
    parser.add_argument(
        "--bulk-rows",
        type=int,
        default=None,
        help="rows of the bulk workload, 1 000 passages per query (default 1000000; 0: none)",
    )
    parser.add_argument(
        "--emulator-passages",
        type=int,
        default=None,
        help="passages for the emulator's CPU (default 10000; 0: none)",
    )
    parser.add_argument(
        "--standin",
        choices=("auto", "c", "python"),
        default="auto",
        help="the server: benchmarks/standin_nim.c built with cc -O2, or benchmarks/standin_nim.py "
        "(default auto: C when cc builds it, else Python)",
    )
    args = parser.parse_args()

    latency, reps = args.latency_ms, args.reps
    workloads, big = [512, 1_000, 10_000, 100_000], 1_000_000
    bulk_rows, emulator_passages = 1_000_000, 10_000
    if args.quick:
        latency, reps, workloads, big = 5.0, min(reps, 2), [512, 2_000], 20_000
        bulk_rows, emulator_passages = 4_000, 1_000
    if args.bulk_rows is not None:
        bulk_rows = args.bulk_rows
    if args.emulator_passages is not None:
        emulator_passages = args.emulator_passages
    if args.workloads:
        workloads = [int(n) for n in args.workloads.split(",")]
    if args.big is not None:
        big = args.big
    clients = [*PORT_CLIENTS, *FLOORS]
    python = None if (args.quick or args.no_peers) else peers_python(install=True)
    if python is not None:
        clients += PEERS
    if args.clients:
        wanted = args.clients.split(",")
        clients = [c for c in clients if c in wanted]

    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    stem = args.out / (stamp + ("-quick" if args.quick else ""))
    server = Server(latency, args.standin)
    workers: dict[str, Worker] = {}
    parser_used = server.get("/_stats")["parser"]
    result: dict[str, Any] = {
        "machine": machine(),
        "settings": {
            "latency_ms": latency,
            "reps": reps,
            "workloads": workloads,
            "big_workload": big,
            "quick": args.quick,
            "server": server.source,
            "standin": server.kind,
            "standin_compiler": server.compiler,
            "clients": clients,
            "started": started,
            "peer_max": args.peer_max,
            "bulk_rows": bulk_rows,
            "emulator_passages": emulator_passages,
            "bytecode": compile_bytecode(),
        },
        "cells": [],
        "failures": [],
    }
    result["settings"]["server_parser"] = parser_used
    print(
        f"server {server.url} (HTTP parser: {parser_used}), {latency:g} ms; {len(clients)} "
        f"clients; {reps} repetitions; load average {os.getloadavg()}",
        flush=True,
    )
    try:
        for client in clients:
            chosen = python if client in PEERS and python is not None else Path(sys.executable)
            workers[client] = Worker(client, chosen, server.url)
        plan = [
            (n, latency, [c for c in clients if runs_at(c, n, args.peer_max)]) for n in workloads
        ]
        if big:
            plan.append((big, 0.0, [c for c in clients if c in BIG]))
        for count, cell_latency, cell_clients in plan:
            server.get(f"/_latency?ms={cell_latency}")
            json_bytes = request_json_bytes(count)
            cells: dict[str, list[dict[str, Any]]] = {c: [] for c in cell_clients}
            first: dict[str, dict[str, Any]] = {}
            failed: dict[str, str] = {}  # a client whose call failed sits the workload out
            for client in cell_clients:
                workers[client].send(op="load", passages=count)
                # The warm-up call, the first of this size, gives the memory figure: later calls
                # start from an RSS that already holds what the allocator kept from it.
                first[client] = warm = workers[client].send(op="call", timed=False)
                if "error" in warm:
                    failed[client] = warm["error"]
                elif warm["scores"] != count:
                    raise RuntimeError(f"{client}: {warm['scores']} scores for {count}")
            for rep in range(reps):
                shift = rep % len(cell_clients)
                for client in cell_clients[shift:] + cell_clients[:shift]:
                    if client in failed:
                        continue
                    before = server.get("/_stats")
                    answer = workers[client].send(op="call", timed=True)
                    after = server.get("/_stats")
                    if "error" in answer:
                        failed[client] = answer["error"]
                        continue
                    if answer["scores"] != count:
                        raise RuntimeError(f"{client}: {answer['scores']} scores for {count}")
                    if client == "cli":  # the CLI's own process did the work
                        answer["cpu"] = answer.pop("child_cpu")
                        answer["rss_base_kib"] = 0
                        answer["rss_peak_kib"] = answer.pop("child_peak_kib")
                    answer["requests"] = after["requests"] - before["requests"]
                    answer["connections"] = after["connections"] - before["connections"]
                    answer["server_cpu"] = after["cpu"] - before["cpu"]
                    answer["server_passages"] = after["passages"] - before["passages"]
                    cells[client].append(answer)
            for client in cell_clients:
                workers[client].send(op="load", passages=0)
                if client in failed:
                    result["failures"].append(
                        {"client": client, "passages": count, "error": failed[client]}
                    )
                    print(f"{count:>9,} {client}: FAILED: {failed[client]}", flush=True)
                    continue
                cell = {
                    "client": client,
                    "passages": count,
                    "latency_ms": cell_latency,
                    "request_json_bytes": json_bytes,
                    "first_call": first[client],
                    "reps": cells[client],
                    "summary": report.summary(cells[client], count, first[client]),
                }
                result["cells"].append(cell)
                s = cell["summary"]
                print(
                    f"[{time.monotonic() - started:6.0f} s] {count:>9,} @ {cell_latency:g} ms "
                    f"{client:<20} wall {s['wall_median']:8.3f} s  cpu {s['cpu_median']:7.3f} s "
                    f"({s['cpu_per_passage_us']:5.1f} µs/passage)  req {s['requests']:g}  "
                    f"conn {s['connections']:g}  server {s['server_cpu_median']:.3f} s"
                    + ("  SERVER-BOUND" if s["server_bound"] else ""),
                    flush=True,
                )
            save(result, stem)  # after every workload, so a run cut short keeps what it measured
        for worker in workers.values():
            worker.close()
        workers.clear()
        if bulk_rows:
            server.get(f"/_latency?ms={latency}")
            result["bulk"] = bulk_runs(server, bulk_rows, args.quick)
            save(result, stem)
    finally:
        for worker in workers.values():
            worker.close()
        server.close()
    if emulator_passages:
        result["emulator"] = emulator_run(emulator_passages, 1 if args.quick else 3)

    table = save(result, stem)
    print()
    print(table)
    print(f"wrote {stem}.json and {stem}.md", flush=True)
    draw(stem, python if python is not None else peers_python(install=False))


BULK_CONCURRENCY = (1, 2, 4, 8, 16, 32)
"""Queries in flight tried for the bulk path and its floor (``--quick``: 1 and 4)."""


def bulk_runs(server: Server, rows: int, quick: bool) -> dict[str, Any]:
    """Target 7: ``reranker-nvidia bulk`` and the bulk floor, one run per concurrency each.

    Both are whole processes (start-up and imports inside), timed with their CPU from
    ``wait4``; the port's run with its defaults too. The outputs at each one's best
    concurrency are compared column for column."""
    import bench_bulk  # noqa: PLC0415 - pyarrow, only when the bulk part runs

    queries = max(1, rows // 1_000)
    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    source = work / "pairs.parquet"
    bench_bulk.write_table(source, queries, 1_000)
    tool = str(Path(sys.executable).with_name("reranker-nvidia"))
    env = {**os.environ, "NVIDIA_APIKEY": "bench"}
    runs: list[dict[str, Any]] = []

    def timed(kind: str, concurrency: int | None, argv: list[str], target: Path) -> None:
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{kind} at concurrency {concurrency} failed")
        cpu = usage.ru_utime + usage.ru_stime
        runs.append(
            {
                "kind": kind,
                "concurrency": concurrency,
                "rows": queries * 1_000,
                "wall": wall,
                "cpu": cpu,
                "rows_per_s": queries * 1_000 / wall,
                "cpu_per_row_us": cpu / (queries * 1_000) * 1e6,
                "output": str(target),
            }
        )
        print(
            f"bulk {kind:<6} concurrency {concurrency or 'default'!s:>7}: {wall:6.2f} s, "
            f"{queries * 1_000 / wall:9,.0f} rows/s, {cpu / (queries * 1_000) * 1e6:5.1f} µs "
            "CPU per row",
            flush=True,
        )

    try:
        for concurrency in (1, 4) if quick else BULK_CONCURRENCY:
            for kind in ("port", "floor"):
                target = work / f"{kind}-{concurrency}.parquet"
                if kind == "port":
                    argv = [
                        *(tool, "bulk", "--input", str(source), "--output", str(target)),
                        *("--base-url", server.url, "--concurrency", str(concurrency)),
                        *("--max-concurrency", "2"),
                    ]
                else:
                    argv = [
                        *(sys.executable, str(HERE / "bulk_floor.py"), str(source)),
                        *(str(target), server.url, "--concurrency", str(concurrency)),
                    ]
                timed(kind, concurrency, argv, target)
        target = work / "port-default.parquet"
        argv = [tool, "bulk", "--input", str(source), "--output", str(target)]
        timed("port", None, [*argv, "--base-url", server.url], target)
        best = {
            kind: max(
                (r for r in runs if r["kind"] == kind and r["concurrency"]),
                key=lambda r: r["rows_per_s"],
            )
            for kind in ("port", "floor")
        }
        import pyarrow.parquet as pq  # noqa: PLC0415

        same = pq.read_table(best["port"]["output"]).equals(pq.read_table(best["floor"]["output"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for run in runs:
        del run["output"]
    return {"rows": queries * 1_000, "queries": queries, "runs": runs, "identical_output": same}


def emulator_run(count: int, repeat: int) -> dict[str, Any]:
    """Target 8: the emulator's own CPU per passage with its default scoring."""
    import emulator_cpu  # noqa: PLC0415 - httpx and the emulator, only here

    figures = sorted(emulator_cpu.measure(count, [])[0] for _ in range(repeat))
    print(f"emulator, default scoring: {statistics.median(figures):.2f} µs CPU per passage")
    return {"passages": count, "repeat": repeat, "cpu_per_passage_us": figures}


def save(result: dict[str, Any], stem: Path) -> str:
    """Write the result and its table (again); returns the table."""
    result["machine"]["load_average_end"] = os.getloadavg()
    result["settings"]["seconds"] = time.monotonic() - result["settings"]["started"]
    result["targets"] = report.targets(result)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    table = report.markdown(result)
    stem.with_suffix(".md").write_text(table)
    return table


def draw(stem: Path, python: Path | None) -> None:
    """The plot, with matplotlib from wherever it is installed (the peers' venv, else here)."""
    command = [str(HERE / "_bench_report.py"), str(stem) + ".json", str(stem) + ".png"]
    for interpreter in (python, Path(sys.executable)):
        if interpreter is None:
            continue
        done = subprocess.run(
            [str(interpreter), *command], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            print(f"wrote {stem}.png")
            return
    print("no plot: matplotlib is not installed (it goes into benchmarks/.peers-venv)")


if __name__ == "__main__":
    main()
