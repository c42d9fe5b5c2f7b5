"""A minimal stand-in NIM for benchmarks: answers every POST after a fixed latency.

The server the peers were measured against (docs/benchmarks.md): asyncio, HTTP/1.1
keep-alive, TCP_NODELAY, one ranking per passage (logit -index), nothing
else, so the time measured is the client's. Prints its URL, then serves
until killed.

    python benchmarks/standin_nim.py [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float
) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            count = len(json.loads(body)["passages"]) if body else 0
            await asyncio.sleep(latency)
            payload = json.dumps(
                {"rankings": [{"index": i, "logit": -float(i)} for i in range(count)]}
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(latency_ms: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, latency_ms / 1000), "127.0.0.1", 0, backlog=256
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"stand-in NIM listening on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    asyncio.run(serve(parser.parse_args().latency_ms))
