"""Rows per second of the bulk path: one process, and Ray Data with two actors.

A long-form Parquet table of QUERIES x PASSAGES rows (1,000 x 1,000 by default:
1,000,000 rows, two requests per query at 512 passages a request) is scored
against the NIM emulator, run in its own process with every answer 50 ms late
(``--scoring hash``: cheap scores, so the client and the wire are measured).

- **one process**: ``reranker-nvidia bulk`` (the limiter off), ``--concurrency G``
  queries in flight, each with its two requests at once; its peak RSS is the
  child's ``ru_maxrss``;
- **Ray Data, 2 actors**: ``rerank_dataset`` over ``ray.data.read_parquet``,
  timed to the scored dataset materialized (then written with ``write_parquet``,
  timed apart; Ray's worker start-up is inside the time); the peak is the
  largest sum of the RSS of the driver and every process under it, sampled
  every 0.2 s (shared pages counted once per process, so an upper bound).

The ideal is every request in flight at the set concurrency:
``requests × latency / in-flight``. Usage::

    .venv/bin/python benchmarks/bench_bulk.py                      # 1,000,000 rows
    .venv/bin/python benchmarks/bench_bulk.py --queries 100        # 100,000 rows
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def emulator(latency_ms: int) -> Iterator[str]:
    port = free_port()
    argv = [
        str(BIN / "nim-emulator"), "--port", str(port), "--latency-ms", str(latency_ms),
        "--scoring", "hash", "--no-request-log", "--quiet",
    ]  # fmt: skip
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        child.wait(10)


def write_table(path: Path, queries: int, passages: int) -> None:
    import pyarrow as pa  # noqa: PLC0415 - the parquet extra, only here
    import pyarrow.parquet as pq  # noqa: PLC0415

    schema = pa.schema(
        [("query_id", pa.int64()), ("query", pa.string()), ("passage_id", pa.int64()),
         ("passage", pa.string())]
    )  # fmt: skip
    with pq.ParquetWriter(path, schema) as writer:
        for q in range(queries):
            writer.write_table(
                pa.table(
                    {
                        "query_id": [q] * passages,
                        "query": [f"which library lends films on day {q}"] * passages,
                        "passage_id": list(range(passages)),
                        "passage": [
                            f"branch {p % 97} lends {'films' if p % 3 else 'books'} on day {p % 7}"
                            for p in range(passages)
                        ],
                    },
                    schema=schema,
                )
            )


def rss_of_tree(root: int) -> int:
    """Bytes resident in ``root`` and every process under it (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(stat[1]), []).append(int(entry))
            rss[int(entry)] = int(stat[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def one_process(url: str, source: Path, target: Path, concurrency: int) -> tuple[float, int]:
    argv = [
        str(BIN / "reranker-nvidia"), "bulk", "--input", str(source), "--output", str(target),
        "--base-url", url, "--concurrency", str(concurrency), "--max-concurrency", "2",
    ]  # fmt: skip
    env = {**os.environ, "NVIDIA_APIKEY": "bench"}
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    assert child.stdout is not None
    print("  " + child.stdout.read().decode().strip())
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the bulk command failed")
    return elapsed, usage.ru_maxrss * 1024  # KiB on Linux


def ray_driver(url: str, source: Path, target: Path, concurrency: int) -> None:
    import ray  # noqa: PLC0415 - the ray extra, in the driver process only

    from reranker_nvidia.bulk import ClientConfig  # noqa: PLC0415
    from reranker_nvidia.bulk.ray import rerank_dataset  # noqa: PLC0415

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    config = ClientConfig(api_key="bench", base_url=url, max_concurrency=2)
    started = time.perf_counter()
    dataset = ray.data.read_parquet(str(source))
    scored = rerank_dataset(dataset, config, actors=2, concurrency=concurrency).materialize()
    print(f"RAY-ELAPSED {time.perf_counter() - started:.3f}", flush=True)
    scored.write_parquet(str(target))
    print(f"RAY-WRITTEN {time.perf_counter() - started:.3f}", flush=True)
    ray.shutdown()


def on_ray(url: str, source: Path, target: Path, concurrency: int) -> tuple[float, int]:
    argv = [sys.executable, __file__, "--ray-driver", url, str(source), str(target),
            str(concurrency)]  # fmt: skip
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_of_tree(child.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    stop.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit("the Ray run failed")
    lines = {x.split()[0]: float(x.split()[1]) for x in out.decode().splitlines() if " " in x}
    print(f"  Ray: scored (materialized) after {lines['RAY-ELAPSED']:.1f} s, "
          f"written to Parquet after {lines['RAY-WRITTEN']:.1f} s")  # fmt: skip
    return lines["RAY-ELAPSED"], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8, help="queries in flight (each)")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--ray-driver", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ray_driver:
        url, source, target, concurrency = args.ray_driver
        ray_driver(url, Path(source), Path(target), int(concurrency))
        return
    rows = args.queries * args.passages
    requests = args.queries * math.ceil(args.passages / 512)
    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    try:
        source = work / "pairs.parquet"
        write_table(source, args.queries, args.passages)
        load = os.getloadavg()[0]
        print(
            f"{rows:,} rows ({args.queries} x {args.passages}), {requests} requests, "
            f"{args.latency_ms} ms each; load average {load:.2f} on {os.cpu_count()} CPUs"
        )
        with emulator(args.latency_ms) as url:
            in_flight = args.concurrency * min(2, math.ceil(args.passages / 512))
            elapsed, peak = one_process(url, source, work / "one.parquet", args.concurrency)
            ideal = requests * args.latency_ms / 1000 / in_flight
            print(f"one process, {in_flight} requests in flight: {elapsed:.1f} s, "
                  f"{rows / elapsed:,.0f} rows/s, peak RSS {peak / 2**20:.0f} MiB, "
                  f"ideal {ideal:.1f} s, ratio {ideal / elapsed:.2f}")  # fmt: skip
            if not args.skip_ray:
                elapsed, peak = on_ray(url, source, work / "ray", args.concurrency)
                ideal = requests * args.latency_ms / 1000 / (2 * in_flight)
                print(f"Ray Data, 2 actors, {2 * in_flight} requests in flight: {elapsed:.1f} s, "
                      f"{rows / elapsed:,.0f} rows/s, peak RSS of the tree "
                      f"{peak / 2**20:.0f} MiB, ideal {ideal:.1f} s, "
                      f"ratio {ideal / elapsed:.2f}")  # fmt: skip
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
