"""Every route of the emulator, in one table (moto's urls.py).

``NIM_URLS`` are NVIDIA's routes: what an emulated request can ask for. Each
is logged and goes through latency and faults; a request no route serves (a
known path with another method included: ``HEAD /v1/models``, ``GET
/v1/ranking``), or a route whose group ``EmulatorConfig.routes`` switches off,
is NVIDIA's ``404 page not found``. In replay mode the cassette
answers every NIM path instead of these handlers.

``CONTROL_URLS`` are the emulator's own ``/_emulator/`` routes: never logged,
never delayed, never faulted; a ``GET`` route also answers ``HEAD``, and any
other request under ``/_emulator/`` is a JSON 404.

A path's ``{name}`` part matches one path segment and reaches the handler as
``params[name]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from nim_emulator import responses
from nim_emulator._wire import Incoming, Reply
from nim_emulator.models import EmulatorState, RequestRecord

__all__ = [
    "CONTROL_PREFIX",
    "CONTROL_URLS",
    "NIM_URLS",
    "ControlUrl",
    "NimUrl",
    "control_url",
    "is_reranking_path",
    "nim_url",
]

CONTROL_PREFIX: Final = "/_emulator/"

NimHandler = Callable[[EmulatorState, Incoming, RequestRecord, Mapping[str, str]], Reply]
ControlHandler = Callable[[EmulatorState, Incoming], Reply]


def _compile(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)))


@dataclass(frozen=True)
class NimUrl:
    """One of NVIDIA's routes.

    ``reranking``: one of the four reranking routes faults apply to by default;
    ``group``: the route group (``_config.ROUTES``) that switches it on and off.
    """

    method: str
    path: str
    handler: NimHandler
    reranking: bool = False
    group: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _compile(self.path))


@dataclass(frozen=True)
class ControlUrl:
    """One of the emulator's control routes."""

    method: str
    path: str
    handler: ControlHandler


NIM_URLS: Final = (
    NimUrl(
        "POST",
        "/v1/retrieval/nvidia/reranking",
        responses.generic_reranking,
        reranking=True,
        group="retrieval",
    ),
    NimUrl(
        "POST",
        "/v1/retrieval/nvidia/{model}/reranking",
        responses.model_reranking,
        reranking=True,
        group="model",
    ),
    NimUrl("POST", "/v1/ranking", responses.self_hosted_ranking, reranking=True, group="ranking"),
    NimUrl("POST", "/v1/rerank", responses.gateway_rerank, reranking=True, group="rerank"),
    NimUrl("GET", "/v1/models", responses.list_models),
    NimUrl("GET", "/v1/metadata", responses.metadata),
    NimUrl("GET", "/v1/health/ready", responses.health_ready),
    NimUrl("GET", "/v1/health/live", responses.health_live),
    NimUrl("GET", "/v2/nvcf/pexec/status/{reqid}", responses.nvcf_status),
)

CONTROL_URLS: Final = (
    ControlUrl("GET", "/_emulator/requests", responses.list_requests),
    ControlUrl("GET", "/_emulator/faults", responses.list_faults),
    ControlUrl("POST", "/_emulator/faults", responses.arm_faults),
    ControlUrl("DELETE", "/_emulator/faults", responses.clear_faults),
    ControlUrl("POST", "/_emulator/reset", responses.reset),
    ControlUrl("POST", "/_emulator/replay", responses.load_replay),
    ControlUrl("DELETE", "/_emulator/replay", responses.leave_replay),
    ControlUrl("GET", "/_emulator/replay/unused", responses.unused_interactions),
)


def nim_url(method: str, path: str) -> tuple[NimUrl, dict[str, str]] | None:
    """The NIM route serving ``method path``, with the path's parameters; None if none does."""
    for url in NIM_URLS:
        if url.method == method and (match := url.pattern.fullmatch(path)) is not None:
            return url, match.groupdict()
    return None


def control_url(method: str, path: str) -> ControlUrl | None:
    """The control route serving ``method path`` (``HEAD`` as ``GET``), if any."""
    wanted = "GET" if method == "HEAD" else method
    return next((u for u in CONTROL_URLS if u.method == wanted and u.path == path), None)


def is_reranking_path(path: str) -> bool:
    """Whether ``path`` is one of the four reranking routes, whatever the method."""
    return any(url.reranking and url.pattern.fullmatch(path) for url in NIM_URLS)
