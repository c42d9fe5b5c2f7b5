"""The app driven directly through ASGI: client disconnects and the rankings rewriters."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from nim_emulator import EmulatorConfig, FaultSpec, create_app
from nim_emulator._wire import pause, read_body
from nim_emulator.faults import _reorder

from ._support import GENERIC, body

pytestmark = pytest.mark.anyio

Message = dict[str, Any]


def receiver(*messages: Message, stay: bool = False) -> Callable[[], Awaitable[Message]]:
    """A receive callable that plays ``messages``, then disconnects (or, ``stay``, waits)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if stay:
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    return receive


def scope(method: str = "POST", path: str = GENERIC) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer x")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }


async def call(
    config: EmulatorConfig, *messages: Message, stay: bool = False
) -> tuple[list[Message], Any]:
    app = create_app(config)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope(), receiver(*messages, stay=stay), send)
    return sent, app.state.emulator


def request_body(data: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": data, "more_body": more}


async def test_read_body_joins_chunks_and_sees_a_disconnect() -> None:
    assert await read_body(receiver(request_body(b"ab", True), request_body(b"c"))) == b"abc"
    assert await read_body(receiver(request_body(b"ab", True))) is None


async def test_client_gone_before_the_body_ends_is_not_answered() -> None:
    sent, state = await call(EmulatorConfig(), request_body(b"{", True))
    assert sent == []
    assert state.requests == []


async def test_pause_returns_false_when_the_client_disconnects() -> None:
    assert await pause(30.0, receiver()) is False
    assert await pause(0.0, receiver()) is True


async def test_pause_ignores_other_messages_until_the_time_is_up() -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    assert await pause(0.01, receive) is True


async def test_disconnect_during_latency_ends_the_request() -> None:
    config = EmulatorConfig(faults=[FaultSpec.parse("latency=30000")])
    sent, state = await call(config, request_body(json.dumps(body()).encode()))
    assert sent == []
    assert state.requests[0].outcome == "client-disconnected"


async def test_disconnect_during_a_slow_body_stops_sending() -> None:
    config = EmulatorConfig(faults=[FaultSpec.parse("slow-body=30000")])
    sent, state = await call(config, request_body(json.dumps(body()).encode()))
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert state.requests[0].outcome == "client-disconnected"
    assert state.requests[0].status == 200


async def test_slow_body_applies_to_fault_bodies_too() -> None:
    config = EmulatorConfig(faults=[FaultSpec.parse("status=418"), FaultSpec.parse("slow-body=1")])
    sent, _ = await call(config, request_body(b""), stay=True)
    chunks = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert len(chunks) == 13 + 1  # 39 bytes in 3-byte pieces (at most 16), then the end
    assert b"".join(chunks) == b'{"status":418,"title":"I\'m a Teapot"}\n'


@pytest.mark.parametrize("logits", [(float(k), float(-k)) for k in range(1, 25)])
def test_shuffle_never_gives_the_sorted_order(logits: tuple[float, float]) -> None:
    payload = {"rankings": [{"index": i, "logit": x} for i, x in enumerate(logits)]}
    shuffled = _reorder(payload, "shuffled")
    assert [r["index"] for r in shuffled["rankings"]] == [1, 0]
    assert payload["rankings"][0]["index"] == 0


def test_reorder_tolerates_odd_entries() -> None:
    payload = {"rankings": [{"index": "x", "logit": None}, {"index": 1, "logit": 2.0}]}
    assert [r["index"] for r in _reorder(payload, "ascending")["rankings"]] == ["x", 1]
    assert [r["index"] for r in _reorder(payload, "index")["rankings"]] == ["x", 1]
