"""The bulk floor: what ``reranker-nvidia bulk`` does, with nothing but Arrow, sockets and json.

Reads a long-form Parquet table (``query_id``, ``query``, ``passage``, any other
column carried through) in Arrow record batches, cuts each query's rows (consecutive
``query_id``) into requests of 512 passages, sends them (the port's exact request
bytes and headers) over raw asyncio streams with keep-alive, ``--concurrency`` queries
in flight with every request of a query at once, places the scores by index with
stdlib ``json``, ranks within the query (highest first, equal scores in input order),
and writes the input's columns plus ``score``, ``rank``, ``chunk`` and ``error`` (all
empty) to Parquet, in input order: the same table ``reranker-nvidia bulk`` writes.

    python benchmarks/bulk_floor.py INPUT.parquet OUTPUT.parquet URL [--concurrency 8]

Prints one line: rows, queries, requests, seconds. Python only, benchmark plumbing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHUNK = 512
MODEL = "nvidia/rerank-qa-mistral-4b"
API_KEY = "bench"
WRITE_ROWS = 65_536


async def groups(path: str) -> AsyncIterator[pa.Table]:
    """The input's queries, one table each, read batch by batch."""
    pending: list[pa.Table] = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=WRITE_ROWS):
        table = pa.Table.from_batches([batch])
        ids = table.column("query_id")
        if len(ids) == 0:
            continue
        changes = pc.indices_nonzero(pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)))
        starts = [0, *(int(i) + 1 for i in changes.to_pylist())]
        if pending and pending[-1].column("query_id")[0] != ids[0]:
            yield pa.concat_tables(pending)
            pending = []
        for start, end in zip(starts, [*starts[1:], len(ids)], strict=True):
            pending.append(table.slice(start, end - start))
            if end < len(ids):
                yield pa.concat_tables(pending)
                pending = []
    if pending:
        yield pa.concat_tables(pending)


class Pool:
    """Keep-alive connections to one host, raw asyncio streams."""

    def __init__(self, url: str) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.head = (
            "POST /v1/retrieval/nvidia/reranking HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\nConnection: keep-alive\r\n"
            "User-Agent: reranker-nvidia (python-httpx)\r\nAccept-Encoding: gzip\r\n"
            f"Authorization: Bearer {API_KEY}\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n"
        )

    async def post(self, body: bytes) -> Any:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=2**22)
        writer.write(self.head.format(len(body)).encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        answer = json.loads(await reader.readexactly(length))
        self.idle.append((reader, writer))
        return answer


async def score(pool: Pool, group: pa.Table) -> pa.Table:
    query = group.column("query")[0].as_py()
    texts = group.column("passage").to_pylist()
    bodies = [
        json.dumps(
            {"model": MODEL, "query": {"text": query}, "passages": [{"text": t} for t in part]},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        for part in (texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK))
    ]
    answers = await asyncio.gather(*(pool.post(body) for body in bodies))
    scores: list[float] = [0.0] * len(texts)
    for chunk, answer in enumerate(answers):
        for ranking in answer["rankings"]:
            scores[chunk * CHUNK + ranking["index"]] = ranking["logit"]
    ranks = [0] * len(texts)
    for place, row in enumerate(sorted(range(len(texts)), key=scores.__getitem__, reverse=True)):
        ranks[row] = place + 1
    return (
        group.append_column("score", pa.array(scores, pa.float64()))
        .append_column("rank", pa.array(ranks, pa.int64()))
        .append_column("chunk", pa.array([i // CHUNK for i in range(len(texts))], pa.int64()))
        .append_column("error", pa.nulls(len(texts), pa.string()))
    )


async def run(source: str, target: str, url: str, concurrency: int) -> tuple[int, int, int]:
    pool = Pool(url)
    window: asyncio.Queue[asyncio.Task[pa.Table] | None] = asyncio.Queue()  # in input order
    slots = asyncio.Semaphore(concurrency)
    rows = queries = requests = 0

    async def feed() -> None:
        nonlocal queries, requests
        async for group in groups(source):
            queries += 1
            requests += -(-group.num_rows // CHUNK)
            await slots.acquire()
            task = asyncio.ensure_future(score(pool, group))
            task.add_done_callback(lambda _: slots.release())
            await window.put(task)
        await window.put(None)

    feeder = asyncio.ensure_future(feed())
    writer: pq.ParquetWriter | None = None
    done: list[pa.Table] = []
    while (task := await window.get()) is not None:
        table = await task
        rows += table.num_rows
        done.append(table)
        if sum(t.num_rows for t in done) >= WRITE_ROWS:
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(pa.concat_tables(done))
            done = []
    await feeder
    if done:
        writer = writer or pq.ParquetWriter(target, done[0].schema)
        writer.write_table(pa.concat_tables(done))
    if writer is not None:
        writer.close()
    return rows, queries, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=8, help="queries in flight")
    args = parser.parse_args()
    started = time.perf_counter()
    rows, queries, requests = asyncio.run(run(args.input, args.output, args.url, args.concurrency))
    print(
        f"bulk floor: {rows} rows in {queries} groups, {requests} requests, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
