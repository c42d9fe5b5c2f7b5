"""A connection that received anything while idle, up to its next request's first byte, is
never used (D-STRAY-ANSWER): the stray is not taken as the answer, in either client.

The stray is timed by the request itself: httpcore's trace reports the request's head as
about to be written, after the pool chose the pooled connection and asked whether it had
expired; only then does the server send its unsolicited answer, and the head waits until
it has landed. So the test fails for a client that checks the connection only when the
pool hands it out (as httpcore does), and passes only if the check is made at the write.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import anyio
import httpx
import pytest

from reranker_nvidia.modulecomponents.base_client import (
    new_async_base_http_client,
    new_base_http_client,
)
from tests.support.httptest import RawConnection, http_response, start_raw_server

HEAD = "http11.send_request_headers.started"


def _answer(logit: float) -> bytes:
    return http_response(json.dumps({"rankings": [{"index": 0, "logit": logit}]}).encode())


class StrayOnCue:
    """Answers each request with its number; sends a stray answer on the first connection
    when cued, and says when it is out."""

    def __init__(self) -> None:
        self.cue = threading.Event()
        self.sent = threading.Event()
        self.served = 0
        self.server = start_raw_server(self._serve)

    def _serve(self, conn: RawConnection) -> None:
        first = self.server.connections == 1
        while conn.read_request() is not None:
            self.served += 1
            conn.send(_answer(float(self.served)))
            if first and self.served == 1:
                self.cue.wait(5)
                conn.send(_answer(99.0))
                self.sent.set()

    def on_head(self, name: str) -> None:
        """The second request's head is about to go out: the stray now, and let it land."""
        if name == HEAD and self.served == 1 and not self.cue.is_set():
            self.cue.set()
            self.sent.wait(5)
            time.sleep(0.05)


def _logits(responses: list[httpx.Response]) -> list[float]:
    return [r.json()["rankings"][0]["logit"] for r in responses]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_stray_that_lands_after_the_pool_chose_the_connection_is_not_the_answer(
    kind: str,
) -> None:
    stray = StrayOnCue()
    url = stray.server.url
    try:
        if kind == "sync":

            def trace(name: str, info: dict[str, Any]) -> None:
                stray.on_head(name)

            with new_base_http_client(10) as client:
                responses = [
                    client.post(url, content=b"{}", extensions={"trace": trace}) for _ in range(2)
                ]
        else:

            async def atrace(name: str, info: dict[str, Any]) -> None:
                stray.on_head(name)

            async def main() -> list[httpx.Response]:
                async with new_async_base_http_client(10) as client:
                    return [
                        await client.post(url, content=b"{}", extensions={"trace": atrace})
                        for _ in range(2)
                    ]

            responses = anyio.run(main)
        assert stray.sent.is_set()
        assert _logits(responses) == [1.0, 2.0]
        assert stray.server.connections == 2
    finally:
        stray.server.close()
