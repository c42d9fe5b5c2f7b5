"""One client under test, in a process of its own, driven by benchmarks/bench.py.

Python only, benchmark plumbing. Reads one JSON command per line on stdin and
answers one JSON line on stdout:

- ``{"op": "load", "passages": N}``: build the N synthetic passages;
- ``{"op": "call", "timed": bool}``: rank them once; a timed call answers its
  wall time, this process's CPU (user+sys, every thread), the RSS before the
  call and the peak RSS during it (Linux ``clear_refs``/``VmHWM``), and how
  many scores came back;
- ``{"op": "quit"}``.

The client is named on the command line (``CLIENTS`` below). The peers' adapters
import their library only when chosen, so this file runs in the peers' venv
too, where ``reranker_nvidia`` is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUERY = "which passage talks about the library opening hours"
API_KEY = "nvapi-bench-0000"
CHUNK = 512
TIMEOUT = 900.0
"""Seconds, for the port's clients: a bench measures speed, not Go's 50 s default timeout (an
``AsyncClient`` request that waits its turn behind 96 in flight spends its own deadline)."""
VOCABULARY = (
    "library opening hours cafeteria museum garden river station archive lecture hall morning "
    "evening weekend holiday ticket visitor guide reading room shelf catalogue index map city "
    "north south bridge tower street square market bakery school park harbour"
)
WORDS = VOCABULARY.split(" ")


def passages(count: int) -> list[str]:
    """``count`` deterministic passages of about 200 characters, every one different."""
    bases = []
    for b in range(997):
        words = [WORDS[(b * 7 + j * 13 + j * j) % len(WORDS)] for j in range(40)]
        bases.append(" ".join(words)[:190])
    return [f"{i} {bases[i % 997]}" for i in range(count)]


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


Call = Callable[[list[str]], int]
"""Ranks the passages once; returns how many scores came back."""


# The imports inside the adapters are deliberate: each loads only its own client's library.


def port_sync(url: str, in_flight: str) -> Call:
    from reranker_nvidia import NAME, ClassBasedModuleConfig, Client  # noqa: PLC0415

    cfg = ClassBasedModuleConfig.for_settings(NAME, {"baseURL": url})
    clients: dict[int | None, Client] = {}

    def call(docs: list[str]) -> int:
        concurrency = None if in_flight == "default" else max(1, -(-len(docs) // CHUNK))
        client = clients.get(concurrency)
        if client is None:
            client = clients[concurrency] = Client(API_KEY, TIMEOUT, max_concurrency=concurrency)
        return len(client.rank(QUERY, docs, cfg).document_scores)

    return call


def port_async(url: str, in_flight: str) -> Call:
    from reranker_nvidia import NAME, AsyncClient, ClassBasedModuleConfig  # noqa: PLC0415

    cfg = ClassBasedModuleConfig.for_settings(NAME, {"baseURL": url})
    runner = asyncio.Runner()
    concurrency = None if in_flight == "default" else 1_000_000
    client = AsyncClient(API_KEY, TIMEOUT, max_concurrency=concurrency)

    def call(docs: list[str]) -> int:
        result = runner.run(client.rank(QUERY, docs, cfg))
        return len(result.document_scores)

    return call


def cli(url: str) -> Call:
    """``reranker-nvidia rerank`` end to end: a process per call, Go's defaults, JSON out."""
    folder = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    command = str(Path(sys.executable).with_name("reranker-nvidia"))
    written: dict[int, Path] = {}

    def call(docs: list[str]) -> int:
        path = written.get(len(docs))
        if path is None:
            path = written[len(docs)] = folder / f"{len(docs)}.txt"
            path.write_text("\n".join(docs) + "\n")
        child = subprocess.Popen(
            [
                *(command, "rerank", "--query", QUERY, "--input", str(path)),
                *("--base-url", url, "--output", "json"),
            ],
            stdout=subprocess.PIPE,
            env={**os.environ, "NVIDIA_APIKEY": API_KEY, "MODULES_CLIENT_TIMEOUT": f"{TIMEOUT:g}s"},
        )
        out, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"the CLI exited with {child.returncode}")
        answer = json.loads(out)
        return len(answer) if isinstance(answer, list) else len(answer.get("results", answer))

    return call


def request_bodies(docs: list[str]) -> list[bytes]:
    return [
        json.dumps(
            {
                "model": "nvidia/rerank-qa-mistral-4b",
                "query": {"text": QUERY},
                "passages": [{"text": d} for d in docs[i : i + CHUNK]],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        for i in range(0, len(docs), CHUNK)
    ]


def placed(answers: list[Any], count: int) -> int:
    scores: list[float | None] = [None] * count
    for chunk, answer in enumerate(answers):
        for ranking in answer["rankings"]:
            scores[chunk * CHUNK + ranking["index"]] = ranking["logit"]
    return sum(score is not None for score in scores)


def floor_httpx(url: str) -> Call:
    """Plain httpx, every chunk in flight, only ``json.loads``."""
    import httpx  # noqa: PLC0415

    runner = asyncio.Runner()
    # Go's idle timeout (90 s), as the port's: httpx's 5 s would expire them between rounds.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=90)
    client = runner.run(_async_httpx(limits))
    target = url + "/v1/retrieval/nvidia/reranking"
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    async def post(body: bytes) -> Any:
        response = await client.post(target, content=body, headers=headers)
        return json.loads(response.content)

    async def every(docs: list[str]) -> int:
        answers = await asyncio.gather(*(post(body) for body in request_bodies(docs)))
        return placed(answers, len(docs))

    return lambda docs: runner.run(every(docs))


async def _async_httpx(limits: Any) -> Any:
    import httpx  # noqa: PLC0415

    return httpx.AsyncClient(limits=limits, timeout=300)


def floor_socket(url: str) -> Call:
    """Raw asyncio streams, every chunk in flight, keep-alive, only ``json.loads``.

    The port's exact request bytes: the body as the port writes it (``request_bodies``) and
    its head, header for header; the scores placed by index."""
    host, port = url.removeprefix("http://").split(":")
    runner = asyncio.Runner()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    head = (  # the port's request head, header for header
        "POST /v1/retrieval/nvidia/reranking HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nConnection: keep-alive\r\n"
        "User-Agent: reranker-nvidia (python-httpx)\r\nAccept-Encoding: gzip\r\n"
        f"Authorization: Bearer {API_KEY}\r\nAccept: application/json\r\n"
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n"
    )

    async def post(body: bytes) -> Any:
        if idle:
            reader, writer = idle.pop()
        else:
            reader, writer = await asyncio.open_connection(host, int(port), limit=2**22)
        writer.write(head.format(len(body)).encode() + body)
        answer_head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in answer_head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        answer = json.loads(await reader.readexactly(length))
        idle.append((reader, writer))
        return answer

    async def every(docs: list[str]) -> int:
        answers = await asyncio.gather(*(post(body) for body in request_bodies(docs)))
        return placed(answers, len(docs))

    return lambda docs: runner.run(every(docs))


def langchain(url: str, batch: int | None) -> Call:
    from langchain_core.documents import Document  # noqa: PLC0415
    from langchain_nvidia_ai_endpoints import NVIDIARerank  # noqa: PLC0415

    rankers: dict[int, Any] = {}  # one per workload (top_n is every passage), kept as a user would

    def call(docs: list[str]) -> int:
        ranker = rankers.get(len(docs))
        if ranker is None:
            extra = {} if batch is None else {"max_batch_size": batch}
            ranker = rankers[len(docs)] = NVIDIARerank(
                base_url=url + "/v1",
                api_key=API_KEY,
                model="nvidia/rerank-qa-mistral-4b",
                top_n=len(docs),
                **extra,
            )
        return len(ranker.compress_documents([Document(page_content=d) for d in docs], QUERY))

    return call


def llamaindex(url: str, batch: int | None) -> Call:
    from llama_index.core.schema import NodeWithScore, TextNode  # noqa: PLC0415
    from llama_index.postprocessor.nvidia_rerank import NVIDIARerank  # noqa: PLC0415

    rankers: dict[int, Any] = {}

    def call(docs: list[str]) -> int:
        ranker = rankers.get(len(docs))
        if ranker is None:
            extra = {} if batch is None else {"max_batch_size": batch}
            ranker = rankers[len(docs)] = NVIDIARerank(
                base_url=url + "/v1",
                api_key=API_KEY,
                model="nvidia/rerank-qa-mistral-4b",
                top_n=len(docs),
                **extra,
            )
        nodes = [NodeWithScore(node=TextNode(text=d)) for d in docs]
        return len(ranker.postprocess_nodes(nodes, query_str=QUERY))

    return call


def haystack(url: str) -> Call:
    from haystack import Document  # noqa: PLC0415
    from haystack_integrations.components.rankers.nvidia import NvidiaRanker  # noqa: PLC0415

    rankers: dict[int, Any] = {}

    def call(docs: list[str]) -> int:
        ranker = rankers.get(len(docs))
        if ranker is None:
            ranker = rankers[len(docs)] = NvidiaRanker(
                api_url=url + "/v1",
                model="nvidia/rerank-qa-mistral-4b",
                top_k=len(docs),
                api_key=None,
            )
            ranker.warm_up()
        answer = ranker.run(query=QUERY, documents=[Document(content=d) for d in docs])
        return len(answer["documents"])

    return call


CLIENTS: dict[str, Callable[[str], Call]] = {
    "port-sync-default": lambda url: port_sync(url, "default"),
    "port-sync-all": lambda url: port_sync(url, "all"),
    "port-async-default": lambda url: port_async(url, "default"),
    "port-async-all": lambda url: port_async(url, "all"),
    "cli": cli,
    "floor-httpx": floor_httpx,
    "floor-socket": floor_socket,
    "langchain-default": lambda url: langchain(url, None),
    "langchain-512": lambda url: langchain(url, 512),
    "llamaindex-default": lambda url: llamaindex(url, None),
    "llamaindex-512": lambda url: llamaindex(url, 512),
    "haystack-default": haystack,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("url")
    args = parser.parse_args()
    call = CLIENTS[args.client](args.url)
    docs: list[str] = []
    children_cpu = 0.0
    for line in sys.stdin:
        command = json.loads(line)
        answer: dict[str, Any] = {}
        if command["op"] == "quit":
            break
        if command["op"] == "load":
            docs = []
            docs = passages(command["passages"])
        elif command["op"] == "call":
            base = rss_kib("VmRSS")
            peak_known = reset_peak()
            cpu, started = cpu_seconds(), time.perf_counter()
            try:
                scores = call(docs)
            except Exception as err:  # noqa: BLE001 - reported, and the bench goes on
                print(json.dumps({"error": f"{type(err).__name__}: {err}"}), flush=True)
                continue
            wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            peak = rss_kib("VmHWM") if peak_known else 0
            if args.client == "cli":  # the work is the child's, not this process's
                child = resource.getrusage(resource.RUSAGE_CHILDREN)
                total = child.ru_utime + child.ru_stime
                answer["child_cpu"], children_cpu = total - children_cpu, total
                answer["child_peak_kib"] = child.ru_maxrss
                # The interpreter and httpx alone, timed next to each call: the start-up target
                # is the CLI's wall minus the library call minus this.
                begun = time.perf_counter()
                subprocess.run([sys.executable, "-c", "import httpx"], check=True)
                answer["import_httpx_wall"] = time.perf_counter() - begun
                child = resource.getrusage(resource.RUSAGE_CHILDREN)  # not the next call's CPU
                children_cpu = child.ru_utime + child.ru_stime
            answer.update(wall=wall, cpu=cpu, scores=scores, rss_base_kib=base, rss_peak_kib=peak)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
