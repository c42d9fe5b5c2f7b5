"""The benchmark server: a loopback NIM that scores every passage and counts its own cost.

One asyncio ``Protocol`` per connection (no streams), HTTP/1.1 keep-alive parsed by
llhttp through ``httptools`` (the ``bench`` extra; without it, by ``h11``, which httpcore
already brings, slower), TCP_NODELAY, a listen backlog of 4 096 (so a burst of
connections is queued, never reset). Every POST is answered after a fixed latency with
one ranking per passage, sorted by logit as NIM sorts them.

The scores are made without decoding the JSON: the passages' region of the body is
split on what stands between two passages (``"},{"text":"``, or json.dumps's spaced
form), so every passage's text is read as the bytes it was sent as; its key is the
CRC-32 (``zlib.crc32``) of those bytes XOR the CRC-32 of the query's text as sent, a
deterministic function of the query and the passage. The passages are ranked by key,
highest first (equal keys in input order), the logit written from a table of 65 536
preformatted values, ``(k - 32768) / 3276.8`` for the key's top 16 bits ``k``, so the
logits fall as the ranks rise, and the answer joined from preformatted pieces. A body
of another shape (no ``"passages"`` list of ``{"text": …}`` objects) is decoded with
``json``, the same scores. benchmarks/standin_nim.c applies the same rule byte for byte
(tests/project/test_bench_quick.py compares the two answers).

Any POST path is accepted (``/v1/retrieval/nvidia/reranking``, ``/v1/ranking``,
``{base}/ranking``…), so every client under test talks to the same server; ``GET
…/models`` (any other GET) answers a one-model list, for the peers that ask.

Two control routes, never counted as traffic:

- ``GET /_stats``: ``{"requests", "connections", "passages", "cpu", "parser"}``: POSTs
  and model listings answered, TCP connections that carried one, passages scored, this
  process's user+sys CPU seconds (``time.process_time``: nanoseconds, not 10 ms ticks),
  and the HTTP parser in use;
- ``GET /_latency?ms=N``: sets the latency from now on.

Prints its URL, then serves until killed.

    python benchmarks/standin_nim.py [--latency-ms 50] [--port 0] [--parser httptools|h11]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import time
from itertools import chain, repeat
from operator import rshift, xor
from typing import Any
from zlib import crc32

MODEL = "nvidia/rerank-qa-mistral-4b"
BACKLOG = 4096
_STRING = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'
QUERY = re.compile(rb'"query"\s*:\s*(?:\{\s*"text"\s*:\s*)?' + _STRING)
LOGIT = [b"%.5f}," % ((k - 32768) / 3276.8) for k in range(65536)]
"""The logit of a key's top 16 bits, from -10 to 10, with the piece's closing ``},``
(standin_nim.c builds the same table with ``"%.5f},"``)."""
INDEX: list[bytes] = []
"""``{"index":i,"logit":`` for every index seen so far."""
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
MODELS = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()


FORMS = (
    (b'"passages":[{"text":"', b'"},{"text":"', b'"}]'),  # compact: the port's, httpx's
    (b'"passages": [{"text": "', b'"}, {"text": "', b'"}]'),  # json.dumps's defaults
)
"""Where the passages start, what stands between two of them, and where they end."""


def rankings(body: bytes) -> tuple[bytes, int]:
    """The answer to one ranking request, and how many passages it scored."""
    query = QUERY.search(body)
    form = next((f for f in FORMS if f[0] in body), None)
    if form is None or query is None:
        return _decoded(body)
    opening, between, closing = form
    start = body.find(opening)
    start += len(opening)
    end = body.rfind(closing, start, query.start() if query.start() > start else len(body))
    if end < 0:
        return _decoded(body)
    texts = body[start:end].split(between)
    count = len(texts)
    if count > len(INDEX):
        INDEX.extend(b'{"index":%d,"logit":' % i for i in range(len(INDEX), count))
    keys = list(map(xor, map(crc32, texts), repeat(crc32(query.group(1)))))
    order = sorted(range(count), key=keys.__getitem__, reverse=True)
    logits = map(LOGIT.__getitem__, map(rshift, map(keys.__getitem__, order), repeat(16)))
    pieces = b"".join(chain.from_iterable(zip(map(INDEX.__getitem__, order), logits, strict=True)))
    return b'{"rankings":[' + pieces[:-1] + b"]}", count


def _decoded(body: bytes) -> tuple[bytes, int]:
    """The slow path, for a body of another shape: the same scores from decoded JSON."""
    request = json.loads(body) if body else {}
    query = request.get("query")
    query = query.get("text", "") if isinstance(query, dict) else str(query or "")
    seed = crc32(json.dumps(query, ensure_ascii=False)[1:-1].encode())
    items = request.get("passages") or request.get("documents") or []
    texts = [item.get("text", "") if isinstance(item, dict) else str(item) for item in items]
    keys = [crc32(json.dumps(t, ensure_ascii=False)[1:-1].encode()) ^ seed for t in texts]
    order = sorted(range(len(keys)), key=keys.__getitem__, reverse=True)
    pieces = b"".join(b'{"index":%d,"logit":%s' % (i, LOGIT[keys[i] >> 16]) for i in order)
    return b'{"rankings":[' + pieces[:-1] + b"]}", len(keys)


class Server:
    def __init__(self, latency_ms: float, parser: str) -> None:
        self.latency = latency_ms / 1000
        self.parser = parser
        self.requests = 0
        self.connections = 0
        self.passages = 0

    def stats(self) -> bytes:
        return json.dumps(
            {
                "requests": self.requests,
                "connections": self.connections,
                "passages": self.passages,
                "cpu": time.process_time(),
                "parser": self.parser,
            }
        ).encode()

    def answer(self, method: bytes, target: bytes, body: bytes) -> tuple[bytes, bool]:
        """The payload, and whether it is traffic (counted, and sent after the latency)."""
        if target.startswith(b"/_"):
            if target.startswith(b"/_latency"):
                self.latency = float(target.partition(b"ms=")[2] or 0) / 1000
                return b'{"ok":true}', False
            return self.stats(), False
        self.requests += 1
        if method != b"POST":
            return MODELS, True
        payload, count = rankings(body)
        self.passages += count
        return payload, True


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, answered after the latency."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.counted = False
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def respond(self, method: bytes, target: bytes, body: bytes, keep_alive: bool) -> None:
        payload, traffic = self.server.answer(method, target, body)
        if traffic and not self.counted:
            self.counted = True
            self.server.connections += 1
        message = HEAD % len(payload) + payload
        if traffic and self.server.latency > 0:
            self.loop.call_later(self.server.latency, self.send, message, keep_alive)
        else:
            self.send(message, keep_alive)

    def send(self, message: bytes, keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(message)
        if not keep_alive:
            self.transport.close()


class LlhttpConnection(Connection):
    """Parsed by llhttp (``httptools``): its callbacks gather the target and the body."""

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        import httptools  # noqa: PLC0415 - the bench extra, checked at start

        self.errors = (httptools.HttpParserError,)
        self.parser = httptools.HttpRequestParser(self)
        self.target = b""
        self.body: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except self.errors:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.target, self.body = b"", []

    def on_url(self, url: bytes) -> None:
        self.target += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        method = self.parser.get_method()
        self.respond(method, self.target, body, self.parser.should_keep_alive())


class H11Connection(Connection):
    """Parsed by ``h11``, for a machine without ``httptools``."""

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        import h11  # noqa: PLC0415

        self.h11 = h11
        self.reset()

    def reset(self) -> None:
        self.connection = self.h11.Connection(self.h11.SERVER)
        self.request: Any = None
        self.body: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        h11 = self.h11
        self.connection.receive_data(data)
        while True:
            try:
                event = self.connection.next_event()
            except h11.RemoteProtocolError:
                if self.transport is not None:
                    self.transport.close()
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if event is h11.PAUSED:  # a pipelined request: h11 wants a fresh cycle
                    leftover = self.connection.trailing_data[0]
                    self.reset()
                    self.connection.receive_data(leftover)
                    continue
                return
            if isinstance(event, h11.Request):
                self.request, self.body = event, []
            elif isinstance(event, h11.Data):
                self.body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                request = self.request
                close = any(
                    k == b"connection" and v.lower() == b"close" for k, v in request.headers
                )
                self.respond(request.method, request.target, b"".join(self.body), not close)
                # Answers are written as raw bytes, so h11 starts a new cycle for the next request.
                leftover = self.connection.trailing_data[0]
                self.reset()
                if leftover:
                    self.connection.receive_data(leftover)
            elif isinstance(event, h11.ConnectionClosed):
                return


def parser_available() -> str:
    try:
        import httptools  # noqa: F401, PLC0415
    except ImportError:
        return "h11"
    return "httptools"


async def serve(latency_ms: float, port: int, parser: str) -> None:
    state = Server(latency_ms, parser)
    kind = LlhttpConnection if parser == "httptools" else H11Connection
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: kind(state), "127.0.0.1", port, backlog=BACKLOG)
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
    parser.add_argument("--parser", choices=("httptools", "h11"), default=parser_available())
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.latency_ms, arguments.port, arguments.parser))
