"""What the extension tests share: a client on a recording MockTransport, and its settings."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from reranker_nvidia import ClassBasedModuleConfig, Client

BASE = "http://nim.test"


class Recorder:
    """Records each request and when it arrived; answers from ``replies`` in turn, then 200."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            self.times.append(time.monotonic())
            if request.url.path.endswith("/health/ready"):
                return httpx.Response(200)
            if self.replies:
                return self.replies.pop(0)
        count = len(json.loads(request.content)["passages"])
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": i} for i in range(count)]}
        )

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def cfg(**settings: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": BASE, **settings})


def client(recorder: Recorder, **kwargs: Any) -> Client:
    return Client("k", transport=httpx.MockTransport(recorder), **kwargs)
