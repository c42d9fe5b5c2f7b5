"""What crosses the wire: the request as read, the :class:`Reply` as data, and the ASGI calls.

A :class:`Reply` is a status, headers and body bytes; the response layer
builds it, the exceptions render into it, the faults may rewrite it, and a
:class:`Wire` sends it. :class:`Wire` is one request's ASGI channel (``receive``,
``send``, and the server's connection handle when there is one); it knows
nothing of faults, which use its calls to drop, cut or trickle a reply.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

import anyio
from starlette.types import Receive, Send

__all__ = [
    "CONNECTION_EXTENSION",
    "JSON",
    "PROBLEM_JSON",
    "TEXT",
    "ConnectionControl",
    "Incoming",
    "Reply",
    "Wire",
    "pause",
    "phrase",
    "read_body",
    "render_json",
    "render_rankings",
]

CONNECTION_EXTENSION: Final = "nim_emulator.connection"
PROBLEM_JSON: Final = "application/problem+json"
JSON: Final = "application/json"
TEXT: Final = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Incoming:
    """One request as the handlers see it; header names are lower-case."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), if sent."""
        return next((v for k, v in self.headers if k == name), None)


@dataclass
class Reply:
    """One HTTP response. ``payload`` is the parsed JSON of a 200 reranking answer, else None.

    ``compact`` says how ``payload`` is rendered when a fault rewrites it:
    compact (``{"a":1}``, the self-hosted capture) or Python's default spacing
    (``{"a": 1}``, the hosted capture). ``build_payload`` makes ``payload``
    when it is first asked for (:meth:`parsed_payload`): an emulated answer's
    body is rendered directly, and the objects are built only for a fault.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    payload: dict[str, Any] | None = None
    compact: bool = True
    build_payload: Callable[[], dict[str, Any]] | None = field(
        default=None, repr=False, compare=False
    )

    def parsed_payload(self) -> dict[str, Any] | None:
        """``payload``, built now if it is still to be built."""
        if self.payload is None and self.build_payload is not None:
            self.payload = self.build_payload()
            self.build_payload = None
        return self.payload

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if any."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def with_payload(self, payload: dict[str, Any]) -> Reply:
        """A copy whose body is ``payload`` rendered in this reply's style."""
        return replace(
            self,
            payload=payload,
            build_payload=None,
            body=render_json(payload, compact=self.compact),
        )


def render_json(value: object, *, compact: bool) -> bytes:
    """JSON bytes: compact, or with Python's default ``", "`` / ``": "`` spacing."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(value, separators=separators, ensure_ascii=False).encode()


_FLOAT_TEXT: dict[float, str] = {}
_FLOAT_TEXT_MAX: Final = 1 << 17  # FP16 has fewer finite values than this


def render_rankings(
    scores: Sequence[tuple[int, float]], *, compact: bool, usage: dict[str, int] | None = None
) -> bytes:
    """``render_json({"rankings": [{"index", "logit"}...], "usage": ...})``, byte for byte.

    Written out directly (the logits' texts cached): the one body every
    emulated request renders, at a fraction of ``json.dumps``'s cost.
    """
    texts = _FLOAT_TEXT
    if len(texts) > _FLOAT_TEXT_MAX:
        texts.clear()
    entries = []
    entry = '{"index":%d,"logit":%s}' if compact else '{"index": %d, "logit": %s}'
    for index, logit in scores:
        text = texts.get(logit)
        if text is None:
            text = json.dumps(logit)
            if logit != 0.0:  # 0.0 and -0.0 are one key, but two texts
                texts[logit] = text
        entries.append(entry % (index, text))
    head, sep, key = (
        ('{"rankings":[', ",", ',"usage":') if compact else ('{"rankings": [', ", ", ', "usage": ')
    )
    tail = "]}" if usage is None else "]" + key + render_json(usage, compact=compact).decode() + "}"
    return (head + sep.join(entries) + tail).encode()


def phrase(status: int) -> str:
    """The HTTP reason phrase of ``status`` ("Error" for a code Python does not name)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ConnectionControl(Protocol):
    """What the emulator's server offers the app about the TCP connection of a request."""

    @property
    def tcp_nodelay(self) -> bool | None:
        """Whether TCP_NODELAY is on for this connection's socket."""
        ...

    async def drop(self, *, reset: bool) -> None:
        """Close the connection now (``reset``: with a TCP RST) and wait until it is gone."""
        ...


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def pause(seconds: float, receive: Receive) -> bool:
    """Sleep; False (early) if the client disconnects meanwhile.

    The wait is on ``receive`` itself, under a timeout (no extra task): after
    the body, the only message a server sends is the disconnect; anything else
    ends the watch and the rest of the time is slept (never a busy loop on a
    receive that does not wait).
    """
    if seconds <= 0:
        return True
    deadline = anyio.current_time() + seconds
    with anyio.move_on_after(seconds) as scope:
        message = await receive()
    if scope.cancelled_caught:
        return True
    if message["type"] == "http.disconnect":
        return False
    await anyio.sleep(max(0.0, deadline - anyio.current_time()))
    return True


@dataclass(frozen=True)
class Wire:
    """One request's ASGI channel; ``conn`` is None when no emulator server runs the app."""

    receive: Receive
    send: Send
    method: str
    conn: ConnectionControl | None

    async def pause(self, seconds: float) -> bool:
        """:func:`pause` on this request."""
        return await pause(seconds, self.receive)

    async def start(self, reply: Reply) -> None:
        """Send the status line and headers (``content-length`` is the whole body's)."""
        headers = [
            (name.lower().encode("latin-1", "replace"), value.encode("latin-1", "replace"))
            for name, value in reply.headers
        ]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await self.send({"type": "http.response.start", "status": reply.status, "headers": headers})

    async def chunk(self, data: bytes, *, more: bool) -> None:
        """Send a piece of the body; ``more=False`` ends it."""
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def reply(self, reply: Reply) -> None:
        """Send a whole reply at once (no body for HEAD)."""
        await self.start(reply)
        await self.chunk(b"" if self.method == "HEAD" else reply.body, more=False)
