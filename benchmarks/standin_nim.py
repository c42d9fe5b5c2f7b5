"""The benchmark server: a loopback NIM that scores every passage and counts its own cost.

asyncio, HTTP/1.1 keep-alive, TCP_NODELAY, a listen backlog of 4 096 (so a
burst of connections is queued, never reset). Every POST is answered after a
fixed latency with one ranking per passage, its logit a hash of the query and
the passage text (CRC-32, so each passage is read and scored), sorted by logit
as NIM sorts them. Any POST path is accepted (``/v1/retrieval/nvidia/reranking``,
``/v1/ranking``, ``{base}/ranking``…), so every client under test talks to the
same server; ``GET …/models`` answers a one-model list, for the peers that ask.

Two control routes, never counted as traffic:

- ``GET /_stats``: ``{"requests", "connections", "cpu"}``: POSTs and model
  listings answered, TCP connections that carried one, and this process's
  user+sys CPU seconds;
- ``GET /_latency?ms=N``: sets the latency from now on.

Prints its URL, then serves until killed.

    python benchmarks/standin_nim.py [--latency-ms 50] [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import zlib

MODEL = "nvidia/rerank-qa-mistral-4b"
BACKLOG = 4096


class Server:
    def __init__(self, latency_ms: float) -> None:
        self.latency = latency_ms / 1000
        self.requests = 0
        self.connections = 0

    def stats(self) -> bytes:
        times = os.times()
        return json.dumps(
            {
                "requests": self.requests,
                "connections": self.connections,
                "cpu": times.user + times.system,
            }
        ).encode()

    def control(self, target: str) -> bytes:
        if target.startswith("/_latency"):
            self.latency = float(target.partition("ms=")[2] or 0) / 1000
            return b'{"ok":true}'
        return self.stats()

    def answer(self, body: bytes) -> bytes:
        self.requests += 1
        request = json.loads(body)
        query = request.get("query")
        query = query.get("text", "") if isinstance(query, dict) else str(query or "")
        seed = zlib.crc32(query.encode())
        passages = request.get("passages") or request.get("documents") or []
        logits = []
        for index, passage in enumerate(passages):
            text = passage.get("text", "") if isinstance(passage, dict) else str(passage)
            logits.append((zlib.crc32(text.encode(), seed) / 214748364.8 - 10.0, index))
        logits.sort(reverse=True)
        rankings = ",".join(f'{{"index":{i},"logit":{logit!r}}}' for logit, i in logits)
        return f'{{"rankings":[{rankings}]}}'.encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        counted = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, target = lines[0].decode("latin-1").split(" ")[:2]
                length, chunked, close = 0, False, False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"transfer-encoding" and b"chunked" in value.lower():
                        chunked = True
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                body = await (read_chunked(reader) if chunked else reader.readexactly(length))
                if target.startswith("/_"):
                    payload = self.control(target)
                else:
                    if not counted:
                        counted = True
                        self.connections += 1
                    if method == "GET":
                        self.requests += 1
                        payload = json.dumps(
                            {"object": "list", "data": [{"id": MODEL, "object": "model"}]}
                        ).encode()
                    else:
                        await asyncio.sleep(self.latency)
                        payload = self.answer(body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def serve(latency_ms: float, port: int) -> None:
    state = Server(latency_ms)
    server = await asyncio.start_server(
        state.handle, "127.0.0.1", port, backlog=BACKLOG, limit=2**20
    )
    host, bound = server.sockets[0].getsockname()[:2]
    print(f"stand-in NIM listening on http://{host}:{bound}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.latency_ms, arguments.port))
