"""Many concurrent calls on one client: throughput, latency and errors.

N concurrent ``rank`` calls of one passage each, on one ``AsyncClient`` (asyncio tasks) and on
one ``Client`` shared by T threads, against a NIM (the stand-in or the emulator) in a child
process on 127.0.0.1 answering after a fixed latency. Prints one line per client: calls, wall
time, calls per second, p50 and p99 latency, errors.

    .venv/bin/python benchmarks/bench_concurrency.py [--calls 1000] [--threads 16]
        [--latency-ms 20] [--server standin|emulator]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
from bench_rerank import server  # run as a script: benchmarks/ is on sys.path

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client, RerankerError

TIMEOUT = 50.0


def _line(name: str, latencies: list[float], wall: float, errors: int) -> str:
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    rate = len(latencies) / wall
    return (
        f"{name:<34} calls={len(latencies):>5}  wall={wall:6.2f} s  {rate:6.0f}/s  "
        f"p50={p50:6.0f} ms  p99={p99:6.0f} ms  errors={errors}"
    )


def run_async(cfg: ClassBasedModuleConfig, calls: int) -> str:
    latencies: list[float] = []
    errors = 0

    async def main() -> float:
        nonlocal errors
        async with AsyncClient("k", TIMEOUT) as client:
            await client.rank("warm", ["up"], cfg)

            async def one(i: int) -> None:
                nonlocal errors
                started = time.perf_counter()
                try:
                    await client.rank("library hours", [f"passage {i}: opens at 9"], cfg)
                except RerankerError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for i in range(calls):
                    group.start_soon(one, i)
            return time.perf_counter() - started

    wall = anyio.run(main)
    return _line("AsyncClient, all calls at once", latencies, wall, errors)


def run_threads(cfg: ClassBasedModuleConfig, calls: int, threads: int) -> str:
    latencies: list[float] = []
    errors = 0
    with Client("k", TIMEOUT) as client:
        client.rank("warm", ["up"], cfg)

        def one(i: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                client.rank("library hours", [f"passage {i}: opens at 9"], cfg)
            except RerankerError:
                errors += 1
            latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, range(calls)))
        wall = time.perf_counter() - started
    return _line(f"Client, {threads} threads", latencies, wall, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--server", choices=("standin", "emulator"), default="emulator")
    args = parser.parse_args()
    with server(args.server, args.latency_ms) as base_url:
        cfg = ClassBasedModuleConfig.for_settings({"baseURL": base_url})
        print(f"{args.server} at {args.latency_ms:g} ms per request, {args.calls} calls")
        print(run_async(cfg, args.calls))
        print(run_threads(cfg, args.calls, args.threads))


if __name__ == "__main__":
    main()
