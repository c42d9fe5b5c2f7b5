"""Wall time and memory of a rank call, against the NIM emulator on loopback.

The setup the peers were measured with, so the figures compare with
theirs (docs/benchmarks.md): one stand-in NIM on 127.0.0.1, in its own process,
answering every request after 50 ms, TCP_NODELAY on, 1 000 and 10 000
passages, median of N runs. ``--server standin`` (the default) is a bare
asyncio server (benchmarks/standin_nim.py) so only the client is measured;
``--server emulator`` uses the NIM emulator, whose own scoring then counts.

    .venv/bin/python benchmarks/bench_rerank.py [--runs 5] [--latency-ms 50]
        [--server standin|emulator]

Prints one line per configuration: requests sent, the median wall time, and
the peak of Python allocations during one more call (tracemalloc, timed apart
because tracing slows the call down).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx

from reranker_nvidia import NAME, AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.clients.ranker import num_cpu
from reranker_nvidia.modulecomponents.base_client import BaseTransport

QUERY = "which passage talks about the library opening hours"


def documents(count: int) -> list[str]:
    return [
        f"passage {i}: the library opens at {i % 12 + 1} and the cafeteria at {i % 7 + 6}"
        for i in range(count)
    ]


@contextmanager
def server(kind: str, latency_ms: float) -> Iterator[str]:
    """The stand-in or the emulator in a child process; yields its base URL."""
    if kind == "emulator":
        command = [sys.executable, "-m", "reranker_nvidia", "emulator", "--port", "0", "--quiet"]
    else:
        command = [sys.executable, str(Path(__file__).with_name("standin_nim.py"))]
    process = subprocess.Popen(
        [*command, "--latency-ms", str(latency_ms)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def timed(run: Callable[[], object], runs: int) -> tuple[float, int]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak


class Counting(httpx.BaseTransport):
    """Counts the requests the client sends (the stand-in keeps no log)."""

    def __init__(self) -> None:
        self.inner = BaseTransport()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--server", choices=("standin", "emulator"), default="standin")
    args = parser.parse_args()

    with server(args.server, args.latency_ms) as base_url:
        cfg = ClassBasedModuleConfig.for_settings(NAME, {"baseURL": base_url})
        print(
            f"{args.server} {base_url} (own process), {args.latency_ms:g} ms per request, "
            f"{num_cpu()} CPUs, median of {args.runs}"
        )
        for count in (1_000, 10_000):
            docs = documents(count)
            for label, concurrency in (("NumCPU (Go's default)", None), ("max_concurrency=16", 16)):
                counting = Counting()
                with Client("k", max_concurrency=concurrency, transport=counting) as client:
                    client.rank(QUERY, docs[:10], cfg)  # warm the pool
                    before = counting.sent
                    seconds, peak = timed(lambda c=client, d=docs: c.rank(QUERY, d, cfg), args.runs)
                    sent = (counting.sent - before) // (args.runs + 1)
                print(
                    f"Client       {count:>6} passages  {label:<22} {sent:>3} requests  "
                    f"{seconds:6.3f} s  peak {peak / 1e6:5.1f} MB"
                )

            async def async_runs(docs: list[str] = docs) -> list[float]:
                async with AsyncClient("k", max_concurrency=16) as client:
                    await client.rank(QUERY, docs[:10], cfg)  # warm the pool
                    times = []
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        await client.rank(QUERY, docs, cfg)
                        times.append(time.perf_counter() - started)
                    return times

            seconds = statistics.median(anyio.run(async_runs))
            peak = 0
            print(
                f"AsyncClient  {count:>6} passages  {'max_concurrency=16':<22} {'':>3}           "
                f"{seconds:6.3f} s"
            )


if __name__ == "__main__":
    main()
