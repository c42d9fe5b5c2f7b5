"""The emulator's ASGI app (Starlette): the NIM routes, the faults, and the ``/_emulator/`` routes.

Not a port of a Go file. :func:`create_app` builds one Starlette app around
one :class:`~nim_emulator._state.EmulatorState`. The same app runs
in-process (``httpx.ASGITransport``) and on a real socket (``_server``).

For each emulated request (anything outside ``/_emulator/``), in this order:

1. the body is read and the request logged (redacted);
2. latency: the configured ``latency_ms`` + jitter, plus the first matching
   ``latency`` fault; a client that disconnects meanwhile ends the request;
3. outcome: the first matching ``status`` or ``drop`` fault, else the NIM's
   answer (``_backend.respond``);
4. on a 200 with ``rankings``: the first matching ``indices``, ``unsorted`` and
   ``malformed-json`` faults; on a 2xx: ``deprecation``; on a 200: ``accepted``;
5. delivery: the first matching ``drop-mid-body`` or ``slow-body`` fault, if
   the answer has a body.

At most one fault of each kind applies to a request, and a fault is used up
(its ``count`` decremented) only when it takes effect; one that does not apply
waits for a later request.

Dropping a connection: on the emulator's own server the TCP connection is
closed (FIN; ``drop=reset`` sends RST) through the connection handle the
server puts in the ASGI scope. In-process there is no socket, so the app
raises :class:`~nim_emulator._errors.EmulatedConnectionDrop` (an
``httpx.RemoteProtocolError``) or ``EmulatedConnectionReset`` (an
``httpx.ReadError``), which ``httpx.ASGITransport`` hands to the client. Under
another ASGI server the exception reaches that server, which typically answers
500 or closes the connection.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any, Final, Protocol

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from nim_emulator import _replies as replies
from nim_emulator._backend import Incoming, is_reranking_path, respond
from nim_emulator._cassette import parse_cassette
from nim_emulator._config import EmulatorConfig
from nim_emulator._errors import (
    EmulatedConnectionDrop,
    EmulatedConnectionReset,
    FaultSpecError,
)
from nim_emulator._faults import FaultSpec
from nim_emulator._replies import Reply
from nim_emulator._state import EmulatorState, RequestRecord

__all__ = ["CONNECTION_EXTENSION", "ConnectionControl", "create_app"]

CONNECTION_EXTENSION: Final = "nim_emulator.connection"
CONTROL_PREFIX: Final = "/_emulator/"
SLOW_BODY_CHUNKS: Final = 16


class ConnectionControl(Protocol):
    """What the emulator's server offers the app about the TCP connection of a request."""

    @property
    def tcp_nodelay(self) -> bool | None:
        """Whether TCP_NODELAY is on for this connection's socket."""
        ...

    async def drop(self, *, reset: bool) -> None:
        """Close the connection now (``reset``: with a TCP RST) and wait until it is gone."""
        ...


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A new emulator app; its state is ``app.state.emulator`` (an :class:`EmulatorState`).

    Raises :class:`~nim_emulator._errors.CassetteError` when
    ``config.replay`` names a cassette that cannot be loaded.
    """
    state = EmulatorState(config or EmulatorConfig())
    app = Starlette(
        routes=[
            Route("/_emulator/requests", _control_requests, methods=["GET"]),
            Route("/_emulator/faults", _control_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_emulator/reset", _control_reset, methods=["POST"]),
            Route("/_emulator/replay", _control_replay, methods=["POST", "DELETE"]),
            Route("/_emulator/replay/unused", _control_unused, methods=["GET"]),
            Route("/{path:path}", _NimEndpoint(state)),
        ]
    )
    app.router.redirect_slashes = False
    app.state.emulator = state
    return app


# ---- control routes -------------------------------------------------------------------------


def _state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _json(status: int, value: object) -> Response:
    return Response(replies.render_json(value, compact=True), status, media_type="application/json")


async def _control_requests(request: Request) -> Response:
    records = _state_of(request).requests
    return _json(200, {"requests": [record.to_dict() for record in records]})


async def _control_faults(request: Request) -> Response:
    state = _state_of(request)
    if request.method == "DELETE":
        state.clear_faults()
    elif request.method == "POST":
        try:
            data: Any = json.loads(await request.body())
        except ValueError as exc:
            return _json(400, {"error": f"the body must be JSON: {exc}"})
        items = data if isinstance(data, list) else [data]
        try:
            specs = [FaultSpec.from_json(item) for item in items]
        except FaultSpecError as exc:
            return _json(400, {"error": str(exc)})
        armed = [state.add_fault(spec) for spec in specs]
        return _json(201, {"armed": [fault.to_dict() for fault in armed]})
    return _json(200, {"faults": [fault.to_dict() for fault in state.faults]})


async def _control_reset(request: Request) -> Response:
    _state_of(request).reset()
    return _json(200, {"reset": True})


async def _control_replay(request: Request) -> Response:
    state = _state_of(request)
    if request.method == "DELETE":
        state.use_cassette(None)
        return _json(200, {"replay": False})
    try:
        data: Any = json.loads(await request.body())
        cassette = parse_cassette(data, source="POST /_emulator/replay")
    except ValueError as exc:  # CassetteError is a ValueError, and so is bad JSON
        return _json(400, {"error": str(exc)})
    state.use_cassette(cassette)
    return _json(200, {"replay": True, "interactions": len(cassette.interactions)})


async def _control_unused(request: Request) -> Response:
    state = _state_of(request)
    cassette = state.cassette
    if cassette is None:
        return _json(409, {"error": "the emulator is not in replay mode (no cassette)"})
    unused = state.unused_interactions()
    total = len(cassette.interactions)
    return _json(
        200,
        {
            "unused": [interaction.summary() for interaction in unused],
            "served": total - len(unused),
            "total": total,
            "cassette": cassette.source,
        },
    )


# ---- the NIM routes -------------------------------------------------------------------------


class _NimEndpoint:
    """One ASGI app for every path outside ``/_emulator/`` (module docstring)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return
        method: str = scope["method"]
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            message = f"no control route {method} {path} (see docs/emulator.md)"
            await _send(send, replies.control_error(404, message), method)
            return
        conn: ConnectionControl | None = scope.get("extensions", {}).get(CONNECTION_EXTENSION)
        headers = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope["headers"]
        ]
        query = scope.get("query_string", b"").decode("latin-1")
        record = self.state.log_request(
            method,
            path,
            query,
            headers,
            body,
            tcp_nodelay=conn.tcp_nodelay if conn is not None else None,
        )
        incoming = Incoming(method, path, query, headers, body)
        await self._handle(incoming, record, receive, send, conn)

    async def _handle(
        self,
        request: Incoming,
        record: RequestRecord,
        receive: Receive,
        send: Send,
        conn: ConnectionControl | None,
    ) -> None:
        state = self.state
        reranking = is_reranking_path(request.path)

        def take(*kinds: str) -> FaultSpec | None:
            return state.take_fault(record, kinds, reranking_route=reranking)

        delay_ms = state.config.latency_ms + state.uniform(state.config.jitter_ms)
        latency = take("latency")
        if latency is not None:
            delay_ms += (latency.latency_ms or 0.0) + state.uniform(latency.jitter_ms or 0.0)
        if not await _pause(delay_ms / 1000.0, receive):
            state.update(record, outcome="client-disconnected")
            return

        outcome = take("status", "drop")
        if outcome is not None and outcome.kind == "drop":
            state.update(record, outcome="dropped")
            await _drop(conn, reset=outcome.mode == "reset", partial=None)
            return
        if outcome is not None:
            assert outcome.status is not None
            reply = replies.fault_status(outcome.status, outcome.retry_after, str(uuid.uuid4()))
        else:
            reply = respond(state, request, record)
            reply = self._rewrite(reply, take)

        delivery = take("drop-mid-body", "slow-body") if reply.body else None
        state.update(record, status=reply.status)
        if delivery is not None and delivery.kind == "drop-mid-body":
            state.update(record, outcome="dropped-mid-body")
            cut = len(reply.body) // 2
            await _send_start(send, reply)
            if cut:
                await send(
                    {"type": "http.response.body", "body": reply.body[:cut], "more_body": True}
                )
            await _drop(conn, reset=False, partial=(cut, len(reply.body)))
            return
        # The record says "answered" before the last byte goes out, so a client that reads
        # the log right after its answer never sees "pending".
        if delivery is not None:
            trickled = await _send_slowly(
                send,
                receive,
                reply,
                (delivery.slow_body_ms or 0.0) / 1000.0,
                before_last=lambda: state.update(record, outcome="answered"),
            )
            if not trickled:
                state.update(record, outcome="client-disconnected")
            return
        state.update(record, outcome="answered")
        await _send(send, reply, request.method)

    def _rewrite(self, reply: Reply, take: _Take) -> Reply:
        payload = reply.payload
        if reply.status == 200 and payload is not None and _rankable(payload):
            fault = take("indices")
            if fault is not None:
                reply = reply.with_payload(_corrupt_indices(payload, fault.mode or ""))
            fault = take("unsorted")
            if fault is not None:
                reply = reply.with_payload(_reorder(reply.payload or payload, fault.mode or ""))
            if take("malformed-json") is not None:
                reply.body = reply.body[: len(reply.body) // 2]
        if 200 <= reply.status < 300:
            fault = take("deprecation")
            if fault is not None and fault.deprecation is not None:
                reply.headers.append(("deprecation", fault.deprecation))
        if reply.status == 200:
            fault = take("accepted")
            if fault is not None:
                request_id = reply.header("nvcf-reqid") or str(uuid.uuid4())
                self.state.store_pending(request_id, reply, fault.polls or 0)
                accepted = replies.accepted(request_id)
                deprecation = reply.header("deprecation")
                if deprecation is not None:
                    accepted.headers.append(("deprecation", deprecation))
                return accepted
        return reply


def _rankable(payload: dict[str, Any]) -> bool:
    """Whether ``rankings`` is a non-empty list of objects (replayed bodies may be anything)."""
    rankings = payload.get("rankings")
    return (
        isinstance(rankings, list) and bool(rankings) and all(isinstance(e, dict) for e in rankings)
    )


class _Take(Protocol):
    def __call__(self, *kinds: str) -> FaultSpec | None: ...


def _corrupt_indices(payload: dict[str, Any], mode: str) -> dict[str, Any]:
    """``rankings`` with one bad index: the last entry (the lowest logit) is the one hit."""
    rankings = [dict(entry) for entry in payload["rankings"]]
    if mode == "missing":
        rankings = rankings[:-1]
    elif mode == "duplicate":
        if len(rankings) > 1:
            rankings[-1]["index"] = rankings[0]["index"]
        else:
            rankings.append(dict(rankings[0]))
    elif mode == "out-of-range":
        rankings[-1]["index"] = len(payload["rankings"])
    else:  # negative
        rankings[-1]["index"] = -1
    return {**payload, "rankings": rankings}


def _reorder(payload: dict[str, Any], mode: str) -> dict[str, Any]:
    """``rankings`` out of logit order: ascending, by index, or a fixed shuffle."""
    rankings = [dict(entry) for entry in payload["rankings"]]
    if mode == "ascending":
        rankings.sort(key=lambda e: (_logit(e), -_index(e)))
    elif mode == "index":
        rankings.sort(key=_index)
    else:  # shuffled: seeded by the rankings themselves, so the same answer every time
        seed = json.dumps(rankings, sort_keys=True)
        shuffled = list(rankings)
        random.Random(seed).shuffle(shuffled)  # noqa: S311  (not security)
        if shuffled == rankings and len(rankings) > 1:
            shuffled = shuffled[1:] + shuffled[:1]
        rankings = shuffled
    return {**payload, "rankings": rankings}


def _logit(entry: dict[str, Any]) -> float:
    value = entry.get("logit")
    return float(value) if isinstance(value, int | float) else 0.0


def _index(entry: dict[str, Any]) -> int:
    value = entry.get("index")
    return value if isinstance(value, int) else 0


# ---- ASGI helpers ---------------------------------------------------------------------------


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _pause(seconds: float, receive: Receive) -> bool:
    """Sleep; False (early) if the client disconnects meanwhile."""
    if seconds <= 0:
        return True
    disconnected = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            # After the body, the only message a server sends is the disconnect; anything
            # else ends the watch (never a busy loop on a receive that does not wait).
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                group.cancel_scope.cancel()

        group.start_soon(watch)
        await anyio.sleep(seconds)
        group.cancel_scope.cancel()
    return not disconnected


def _raw_headers(reply: Reply) -> list[tuple[bytes, bytes]]:
    headers = [
        (name.lower().encode("latin-1", "replace"), value.encode("latin-1", "replace"))
        for name, value in reply.headers
    ]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    return headers


async def _send_start(send: Send, reply: Reply) -> None:
    await send(
        {"type": "http.response.start", "status": reply.status, "headers": _raw_headers(reply)}
    )


async def _send(send: Send, reply: Reply, method: str) -> None:
    await _send_start(send, reply)
    body = b"" if method == "HEAD" else reply.body
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_slowly(
    send: Send, receive: Receive, reply: Reply, seconds: float, before_last: Callable[[], None]
) -> bool:
    """Headers now, then the body in up to 16 chunks spread evenly over ``seconds``."""
    await _send_start(send, reply)
    body = reply.body
    pieces = min(SLOW_BODY_CHUNKS, len(body))
    size = -(-len(body) // pieces)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    for chunk in chunks:
        if not await _pause(seconds / len(chunks), receive):
            return False
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    before_last()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return True


async def _drop(
    conn: ConnectionControl | None, *, reset: bool, partial: tuple[int, int] | None
) -> None:
    """Close the connection (server) or raise the httpx error a client would see (in-process)."""
    if conn is not None:
        await conn.drop(reset=reset)
        return
    if reset:
        raise EmulatedConnectionReset("[Errno 104] Connection reset by peer")
    if partial is None:
        raise EmulatedConnectionDrop("Server disconnected without sending a response.")
    received, expected = partial
    raise EmulatedConnectionDrop(
        "peer closed connection without sending complete message body "
        f"(received {received} bytes, expected {expected})"
    )
