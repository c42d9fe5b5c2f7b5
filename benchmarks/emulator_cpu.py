"""The emulator's own CPU per passage, as a benchmark server.

Starts ``nim-emulator`` on 127.0.0.1 in a subprocess (its extra flags after
``--``), posts N passages of about 200 characters in chunks of 512 to
``/v1/ranking`` with one plain ``httpx.AsyncClient``, every chunk in flight at
once, and prints the emulator process's CPU (user + sys, from
``/proc/<pid>/stat``) spent on them, per passage. The CPU of start-up and of a
warm-up chunk is taken out: the figure is what the requests cost.

    python benchmarks/emulator_cpu.py                       # 10 000 and 100 000 passages
    python benchmarks/emulator_cpu.py -n 10000 --repeat 5 -- --scoring hash --no-request-log

Linux only (``/proc``). The numbers are medians over ``--repeat`` runs, each on
a fresh emulator. ``/proc`` counts CPU in clock ticks (10 ms), so at 10 000
passages a figure is good to about 1 µs per passage. The wall time printed is
the client's (one httpx client with every chunk in flight), not the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHUNK = 512
MODEL = "nvidia/llama-nemotron-rerank-1b-v2"
WORDS = tuple(
    " ".join(
        (
            "gpu memory bandwidth tensor core latency throughput cache kernel batch model",
            "passage query token rerank score index vector search retrieval server client",
            "network socket thread event loop python parser buffer stream request answer",
        )
    ).split(" ")
)


def passages(count: int, seed: int = 7) -> list[str]:
    """``count`` deterministic passages of about 200 characters."""
    rng = random.Random(seed)  # not security
    out = []
    for _ in range(count):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 200:
            words.append(rng.choice(WORDS))
        out.append(" ".join(words))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far, in seconds (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_emulator(extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from nim_emulator.cli import console; console()",
        "--port",
        str(port),
        "--quiet",
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/v1/health/ready", timeout=1).raise_for_status()
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None:
                message = process.stderr.read().decode() if process.stderr else "died"
                raise SystemExit(message) from None
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the emulator did not start")


async def post_all(url: str, bodies: list[dict[str, object]]) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one(body: dict[str, object]) -> None:
            response = await client.post("/v1/ranking", json=body)
            response.raise_for_status()
            if len(response.json()["rankings"]) != len(body["passages"]):  # type: ignore[arg-type]
                raise SystemExit("wrong number of rankings")

        await asyncio.gather(*(one(body) for body in bodies))


def bodies_for(texts: list[str]) -> list[dict[str, object]]:
    return [
        {
            "model": MODEL,
            "query": {"text": "which gpu has the highest memory bandwidth"},
            "passages": [{"text": t} for t in texts[i : i + CHUNK]],
        }
        for i in range(0, len(texts), CHUNK)
    ]


def measure(count: int, extra: list[str]) -> tuple[float, float]:
    """(server CPU µs per passage, wall seconds) for one run on a fresh emulator."""
    process, url = start_emulator(extra)
    try:
        asyncio.run(post_all(url, bodies_for(passages(CHUNK, seed=1))))  # warm-up
        before = cpu_seconds(process.pid)
        started = time.perf_counter()
        asyncio.run(post_all(url, bodies_for(passages(count))))
        wall = time.perf_counter() - started
        used = cpu_seconds(process.pid) - before
        return used / count * 1e6, wall
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="passages (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="flags for nim-emulator, after --")
    args = parser.parse_args()
    for count in args.n or [10_000, 100_000]:
        runs = [measure(count, args.extra) for _ in range(args.repeat)]
        per = sorted(r[0] for r in runs)
        walls = [r[1] for r in runs]
        print(
            f"{count:>7} passages  emulator CPU {statistics.median(per):6.2f} µs/passage "
            f"(min {per[0]:.2f}, max {per[-1]:.2f})  client wall {statistics.median(walls):.2f} s  "
            f"flags: {' '.join(args.extra) or '(none)'}"
        )


if __name__ == "__main__":
    main()
