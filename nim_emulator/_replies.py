"""Every response the emulator can give, as data: captured bodies, and the inferred rest.

Not a port of a Go file (moto keeps these in ``responses.py``). A
:class:`Reply` is a status, headers and body bytes; the app sends it, and the
faults may rewrite it first. Each builder says whether its body is
**captured** (bytes from ``_captures``, i.e. seen from NVIDIA's real service),
**captured shape** (a real body with the variable parts filled in) or
**inferred** (no capture exists; the shape follows NVIDIA's other bodies and is
listed as inferred in docs/emulator.md) or **invented** (emulator-only).
"""

from __future__ import annotations

import http
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from nim_emulator import _captures as cap

__all__ = ["PROBLEM_JSON", "Reply"]

PROBLEM_JSON: Final = "application/problem+json"
JSON: Final = "application/json"
TEXT: Final = "text/plain; charset=utf-8"

# Inferred: Retry-After of a 503 when the fault gives none. 10800 is the one value reported
# (reference/nim-api.md, "when a model is offline"); give retry-after=N to change it.
DEFAULT_503_RETRY_AFTER: Final = 10800


@dataclass
class Reply:
    """One HTTP response. ``payload`` is the parsed JSON of a 200 reranking answer, else None.

    ``compact`` says how ``payload`` is rendered when a fault rewrites it:
    compact (``{"a":1}``, the self-hosted capture) or Python's default spacing
    (``{"a": 1}``, the hosted capture).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    payload: dict[str, Any] | None = None
    compact: bool = True

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if any."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def with_payload(self, payload: dict[str, Any]) -> Reply:
        """A copy whose body is ``payload`` rendered in this reply's style."""
        return replace(self, payload=payload, body=render_json(payload, compact=self.compact))


def render_json(value: object, *, compact: bool) -> bytes:
    """JSON bytes: compact, or with Python's default ``", "`` / ``": "`` spacing."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(value, separators=separators, ensure_ascii=False).encode()


def _problem(status: int, body: dict[str, Any], *extra: tuple[str, str]) -> Reply:
    # Problem-details bodies end in "\n" (see _captures' docstring).
    data = render_json(body, compact=True) + b"\n"
    return Reply(status, [("content-type", PROBLEM_JSON), *extra], data)


def phrase(status: int) -> str:
    """The HTTP reason phrase of ``status`` ("Error" for a code Python does not name)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# ---- authentication -------------------------------------------------------------------------


def missing_auth() -> Reply:
    """401, no ``Authorization`` header. Captured body; ``charset=utf-8`` is inferred."""
    return Reply(401, [("content-type", TEXT)], cap.MISSING_AUTH_401)


def malformed_bearer() -> Reply:
    """401, an ``Authorization`` header that is not ``Bearer <token>``.

    Captured: the status and the ``WWW-Authenticate`` parameters. Inferred: the
    empty body (the capture shows only that it was not JSON).
    """
    return Reply(401, [("www-authenticate", cap.MALFORMED_BEARER_WWW_AUTHENTICATE)])


def forbidden() -> Reply:
    """403, wrong API key. Captured body; the content type follows nim-api.md."""
    return Reply(403, [("content-type", PROBLEM_JSON)], cap.FORBIDDEN_403)


# ---- routing --------------------------------------------------------------------------------


def not_found_page() -> Reply:
    """404 for a path no route serves. Captured body and headers."""
    return Reply(404, list(cap.NOT_FOUND_404_HEADERS), cap.NOT_FOUND_404)


def unknown_model(model: str, available: tuple[str, ...]) -> Reply:
    """404, a model the route does not serve. Captured text ``Available models are: [...]``.

    Inferred envelope: problem details without ``type``, like the captured
    "Function ... Not found" 404, with ``Unknown model '<m>'. `` before the text.
    """
    listed = "[" + ", ".join(f"'{m}'" for m in available) + "]"
    detail = f"Unknown model '{model}'. Available models are: {listed}"
    return _problem(404, {"status": 404, "title": "Not Found", "detail": detail})


def gone(model: str, end_of_life: datetime) -> Reply:
    """410, a model past its end of life. Captured shape (body template and headers)."""
    eol = end_of_life.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = cap.GONE_410_TEMPLATE.format(model=model, eol=eol).encode()
    return Reply(410, list(cap.GONE_410_HEADERS), body)


# ---- validation and limits ------------------------------------------------------------------


def validation_error(detail: str, instance: str, request_id: str) -> Reply:
    """422, hosted. Inferred: the garak chat-model envelope (captured) used for reranking."""
    return _problem(
        422,
        {
            "type": cap.VALIDATION_422_TYPE,
            "title": cap.VALIDATION_422_TITLE,
            "status": 422,
            "detail": detail,
            "instance": instance,
            "requestId": request_id,
        },
    )


def hosted_token_overflow(length: int, limit: int) -> Reply:
    """400, hosted, a pair over the token limit. Captured text; inferred problem envelope."""
    detail = cap.LENGTH_OVERFLOW_TEMPLATE.format(length=length, limit=limit)
    return _problem(400, {"status": 400, "title": "Bad Request", "detail": detail})


def self_hosted_error(status: int, message: str) -> Reply:
    """A self-hosted NIM error: ``{"object":"error","message":...}``.

    Captured: those two keys (langchain-nvidia PR #299). Inferred: that nothing
    follows them (the capture elides the rest with ``...``), and their use for
    schema errors and model mismatches.
    """
    body = render_json({"object": "error", "message": message}, compact=True)
    return Reply(status, [("content-type", JSON)], body)


# ---- success --------------------------------------------------------------------------------


def rankings(payload: dict[str, Any], *, hosted: bool, request_id: str | None) -> Reply:
    """200 with ``{"rankings": [...]}``; hosted: Python spacing and the nvcf headers."""
    headers = [("content-type", JSON)]
    if hosted and request_id is not None:
        headers += [("nvcf-reqid", request_id), ("nvcf-status", "fulfilled")]
    return Reply(200, headers, render_json(payload, compact=not hosted), payload, not hosted)


def captured_rankings(request_id: str) -> Reply:
    """200, the captured hosted answer to the captured hosted request, byte for byte."""
    payload: dict[str, Any] = json.loads(cap.HOSTED_GENERIC_RESPONSE)
    headers = [
        ("content-type", JSON),
        ("nvcf-reqid", request_id),
        ("nvcf-status", "fulfilled"),
    ]
    return Reply(200, headers, cap.HOSTED_GENERIC_RESPONSE, payload, compact=False)


def accepted(request_id: str) -> Reply:
    """202 with an empty body, ``nvcf-status: in-progress`` and ``nvcf-reqid`` (nim-api.md)."""
    return Reply(202, [("nvcf-reqid", request_id), ("nvcf-status", "in-progress")])


def poll_not_found(request_id: str) -> Reply:
    """404 for a polled request id the emulator does not hold. Inferred body."""
    detail = f"Request '{request_id}' not found"
    return _problem(404, {"status": 404, "title": "Not Found", "detail": detail})


def models_list(model: str) -> Reply:
    """200 for ``GET /v1/models``: the published example's shape, compact."""
    body = render_json({"object": cap.MODELS_LIST_OBJECT, "data": [{"id": model}]}, compact=True)
    return Reply(200, [("content-type", JSON)], body)


def health(state: str) -> Reply:
    """200 for the health routes. Invented body (only the status is documented)."""
    body = render_json(
        {"object": "health.response", "message": f"Service is {state}."}, compact=True
    )
    return Reply(200, [("content-type", JSON)], body)


# ---- faults ---------------------------------------------------------------------------------


def fault_status(status: int, retry_after: int | None, request_id: str) -> Reply:
    """The answer of a ``status=CODE`` fault.

    Captured bodies: 403, 404 (text page), 429, 502. Inferred: every other
    body — 4xx ``{"status":N,"title":...}`` like the 429 capture (402 adds the
    ``detail`` "Cloud credits expired" named in nim-api.md), 5xx
    ``{"type":"about:blank","title":...,"status":N}`` like the 502 capture; 504
    adds ``nvcf-status: errored`` and ``nvcf-reqid`` (nim-api.md). A 503 carries
    ``Retry-After`` (10800 unless ``retry-after`` is given); other codes carry
    it only when ``retry-after`` is given.
    """
    if status == 403:
        reply = forbidden()
    elif status == 404:
        reply = not_found_page()
    elif status == 429:
        reply = Reply(429, [("content-type", PROBLEM_JSON)], cap.TOO_MANY_REQUESTS_429)
    elif status == 502:
        reply = Reply(502, [("content-type", PROBLEM_JSON)], cap.BAD_GATEWAY_502)
    elif status == 402:
        reply = _problem(
            402, {"status": 402, "title": phrase(402), "detail": "Cloud credits expired"}
        )
    elif status < 500:
        reply = _problem(status, {"status": status, "title": phrase(status)})
    else:
        reply = _problem(status, {"type": "about:blank", "title": phrase(status), "status": status})
    if status == 503 and retry_after is None:
        retry_after = DEFAULT_503_RETRY_AFTER
    if retry_after is not None:
        reply.headers.append(("retry-after", str(retry_after)))
    if status == 504:
        reply.headers += [("nvcf-reqid", request_id), ("nvcf-status", "errored")]
    return reply


# ---- emulator-only --------------------------------------------------------------------------


def control_error(status: int, message: str) -> Reply:
    """An error of a ``/_emulator/`` control route. Invented: ``{"error": message}``."""
    return Reply(status, [("content-type", JSON)], render_json({"error": message}, compact=True))


def replay_mismatch(
    received: dict[str, Any], expected: dict[str, Any] | None, reason: str
) -> Reply:
    """599, a request the replayed cassette does not hold. Invented (emulator-only)."""
    body = {
        "error": "reranker-nvidia emulator: no cassette interaction matches this request",
        "reason": reason,
        "received": received,
        "expected": expected,
    }
    return Reply(599, [("content-type", JSON)], render_json(body, compact=False))
