"""The emulator's exceptions (moto's exceptions.py): NVIDIA's error answers, and its own errors.

**NVIDIA's errors** are raised by the model layer's checks and rendered by the
response layer (``error.reply()``), status, headers and body. Each class says
whether its body is **captured** (bytes from ``_captures``, i.e. seen from
NVIDIA's real service), **captured shape** (a real body with the variable
parts filled in), **inferred** (no capture exists; the shape follows NVIDIA's
other bodies and is listed as inferred in docs/emulator.md) or **invented**
(emulator-only)::

    NimError                            an answer other than a success; .reply() renders it
    ├── MissingAuthorizationError       401, no Authorization header
    ├── MalformedBearerError            401, not "Bearer <token>"
    ├── ForbiddenError                  403, wrong key
    ├── PageNotFoundError               404, a path no route serves
    ├── UnknownModelError               404, a model the hosted route does not serve
    ├── FunctionNotFoundError           404, a hosted route the account cannot use (captured)
    ├── ModelGoneError                  410, a model past its end of life
    ├── HostedValidationError           422, hosted: the body breaks the schema
    ├── HostedTokenOverflowError        400 (or 422 by NIM version), hosted: a pair over the limit
    ├── SelfHostedError                 /v1/ranking's {"object":"error","message":...}
    │   ├── SelfHostedValidationError       400, the first schema error
    │   ├── SelfHostedModelNotFoundError    404, another model than the served one
    │   └── SelfHostedTokenOverflowError    400 or 422 (by model), a pair over the limit
    ├── GatewayError                    /v1/rerank's FastAPI-style {"detail": ...}
    │   ├── GatewayValidationError          422, the body breaks the gateway's schema
    │   ├── GatewayModelNotFoundError       404, a model the catalogue does not know
    │   └── GatewayTokenOverflowError       400 (or 422 by NIM version), a pair over the limit
    ├── PollNotFoundError               404, a polled request id the emulator does not hold
    ├── ProblemDetailsError             any other problem-details answer (the status faults)
    ├── ReplayMismatchError             599, a request the replayed cassette does not hold
    └── ControlError                    an error of a /_emulator/ control route

**The emulator's own errors**, about its own input::

    EmulatorError                   every error the emulator raises about its own input
    ├── EmulatorConfigError         an :class:`EmulatorConfig` value is unusable
    ├── FaultSpecError              a ``--fault`` spec or a fault JSON object is invalid
    ├── CassetteError               a replay cassette cannot be read or has the wrong shape
    └── EmulatorServerError         the server cannot listen, or stopped during start-up

    httpx.RemoteProtocolError
    └── EmulatedConnectionDrop      in-process only: the ``drop`` / ``drop-mid-body`` faults
    httpx.ReadError
    └── EmulatedConnectionReset     in-process only: the ``drop=reset`` fault

The two ``Emulated…`` classes are raised *by the faults* when the app runs
in-process under ``httpx.ASGITransport``; the transport hands them to the
client, so the client sees the same httpx exception types it would see over a
real socket. Over a real socket (``running_emulator``, ``serve``) they are
never raised: the server closes the TCP connection instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from nim_emulator import _captures as cap
from nim_emulator._wire import JSON, PROBLEM_JSON, TEXT, Reply, phrase, render_json

__all__ = [
    "CassetteError",
    "ControlError",
    "EmulatedConnectionDrop",
    "EmulatedConnectionReset",
    "EmulatorConfigError",
    "EmulatorError",
    "EmulatorServerError",
    "FaultSpecError",
    "ForbiddenError",
    "FunctionNotFoundError",
    "GatewayError",
    "GatewayModelNotFoundError",
    "GatewayTokenOverflowError",
    "GatewayValidationError",
    "HostedTokenOverflowError",
    "HostedValidationError",
    "Issue",
    "MalformedBearerError",
    "MissingAuthorizationError",
    "ModelGoneError",
    "NimError",
    "PageNotFoundError",
    "PollNotFoundError",
    "ProblemDetailsError",
    "ReplayMismatchError",
    "SelfHostedError",
    "SelfHostedModelNotFoundError",
    "SelfHostedTokenOverflowError",
    "SelfHostedValidationError",
    "UnknownModelError",
]


# ---- NVIDIA's errors ------------------------------------------------------------------------


class NimError(Exception):
    """An answer other than a success: raised by a check, rendered by :meth:`reply`."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        super().__init__(f"{status} {phrase(status)}")
        self.status = status
        self.headers = headers
        self.body = body

    def reply(self) -> Reply:
        """The answer to send: a fresh :class:`Reply` (faults may add headers to it)."""
        return Reply(self.status, list(self.headers), self.body)


def _problem(body: dict[str, Any]) -> tuple[list[tuple[str, str]], bytes]:
    # Problem-details bodies end in "\n" (see _captures' docstring).
    return [("content-type", PROBLEM_JSON)], render_json(body, compact=True) + b"\n"


class MissingAuthorizationError(NimError):
    """401, no ``Authorization`` header. Captured body; ``charset=utf-8`` is inferred."""

    def __init__(self) -> None:
        super().__init__(401, [("content-type", TEXT)], cap.MISSING_AUTH_401)


class MalformedBearerError(NimError):
    """401, an ``Authorization`` header that is not ``Bearer <token>``.

    Captured: the status and the ``WWW-Authenticate`` parameters. Inferred: the
    empty body (the capture shows only that it was not JSON).
    """

    def __init__(self) -> None:
        super().__init__(401, [("www-authenticate", cap.MALFORMED_BEARER_WWW_AUTHENTICATE)])


class ForbiddenError(NimError):
    """403, wrong API key. Captured body; the content type is the gateway's problem details'."""

    def __init__(self) -> None:
        super().__init__(403, [("content-type", PROBLEM_JSON)], cap.FORBIDDEN_403)


class PageNotFoundError(NimError):
    """404 for a path no route serves. Captured body and headers."""

    def __init__(self) -> None:
        super().__init__(404, list(cap.NOT_FOUND_404_HEADERS), cap.NOT_FOUND_404)


class UnknownModelError(NimError):
    """404, a model the route does not serve. Captured text ``Available models are: [...]``.

    Inferred envelope: problem details without ``type``, like the captured
    "Function ... Not found" 404, with ``Unknown model '<m>'. `` before the text.
    """

    def __init__(self, model: str, available: tuple[str, ...]) -> None:
        listed = "[" + ", ".join(f"'{m}'" for m in available) + "]"
        detail = f"Unknown model '{model}'. Available models are: {listed}"
        super().__init__(404, *_problem({"status": 404, "title": "Not Found", "detail": detail}))


class FunctionNotFoundError(NimError):
    """404, a hosted model's function that the account cannot use. Captured body (template).

    The function id is the model's invented NVCF function id (the one the 422
    ``instance`` names); the account id is invented.
    """

    ACCOUNT = "nim-emulator-account"

    def __init__(self, function_id: str) -> None:
        body = cap.FUNCTION_NOT_FOUND_404_TEMPLATE.format(
            function=function_id, account=self.ACCOUNT
        ).encode()
        super().__init__(404, [("content-type", PROBLEM_JSON)], body)


class ModelGoneError(NimError):
    """410, a model past its end of life. Captured shape (body template and headers)."""

    def __init__(self, model: str, end_of_life: datetime) -> None:
        eol = end_of_life.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = cap.GONE_410_TEMPLATE.format(model=model, eol=eol).encode()
        super().__init__(410, list(cap.GONE_410_HEADERS), body)


@dataclass(frozen=True)
class Issue:
    """One validation error: where (``loc``, inside the body), what, and pydantic's type."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


class HostedValidationError(NimError):
    """422, hosted. Inferred: the garak chat-model envelope (captured) used for reranking.

    ``detail`` is NVIDIA's problem-details string, as in the garak capture:
    ``body -> passages -> 0 -> text\\n  String should have at least 1 character
    (type=string_too_short)``, one such entry per issue, joined by ``\\n``.
    """

    def __init__(self, issues: list[Issue], instance: str, request_id: str) -> None:
        self.issues = issues
        detail = "\n".join(
            " -> ".join(["body", *(str(part) for part in issue.loc)])
            + f"\n  {issue.msg} (type={issue.type})"
            for issue in issues
        )
        body = {
            "type": cap.VALIDATION_422_TYPE,
            "title": cap.VALIDATION_422_TITLE,
            "status": 422,
            "detail": detail,
            "instance": instance,
            "requestId": request_id,
        }
        super().__init__(422, *_problem(body))


class HostedTokenOverflowError(NimError):
    """400, hosted, a pair over the token limit. Captured text; inferred problem envelope.

    ``status`` 422 (``EmulatorConfig.nim_version`` 2.x) keeps the envelope with
    422's status and title.
    """

    def __init__(self, length: int, limit: int, status: int = 400) -> None:
        detail = cap.LENGTH_OVERFLOW_TEMPLATE.format(length=length, limit=limit)
        body = {"status": status, "title": phrase(status), "detail": detail}
        super().__init__(status, *_problem(body))


class SelfHostedError(NimError):
    """A self-hosted NIM error: ``{"object":"error","message":...}``.

    Captured: those two keys (langchain-nvidia PR #299). Inferred: that nothing
    follows them (the capture elides the rest with ``...``), and their use for
    schema errors and model mismatches.
    """

    def __init__(self, status: int, message: str) -> None:
        self.message = message
        body = render_json({"object": "error", "message": message}, compact=True)
        super().__init__(status, [("content-type", JSON)], body)


class SelfHostedValidationError(SelfHostedError):
    """400, one line for the first issue only (inferred, but for the captured ``top_k`` text).

    ``passages[0].text: String should have at least 1 character``; an unknown
    top-level field gives the captured ``top_k: unknown field, expected one of
    model, query, passages, truncate``.
    """

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__(400, _first_issue(issues[0]))


def _first_issue(issue: Issue) -> str:
    path = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in issue.loc
    ).lstrip(".")
    if issue.type == "extra_forbidden":
        if len(issue.loc) == 1:
            return cap.SELF_HOSTED_UNKNOWN_FIELD_TEMPLATE.format(field=path)
        return f"{path}: unknown field, expected text"
    if issue.type == "json_invalid":
        if not issue.loc:  # nested too deeply: _json.JsonTooDeep's own words
            return f"body: {issue.msg}"
        return f"body: invalid JSON at character {issue.loc[0]}"
    return f"{path or 'body'}: {issue.msg}"


class SelfHostedModelNotFoundError(SelfHostedError):
    """404, a body naming another model than the served one. Inferred: no capture shows it."""

    def __init__(self, model: str, served: str) -> None:
        super().__init__(404, f"Model '{model}' not found. This NIM serves '{served}'.")


class SelfHostedTokenOverflowError(SelfHostedError):
    """A pair over the token limit: captured text; the status is the model's (400 or 422)."""

    def __init__(self, status: int, length: int, limit: int) -> None:
        super().__init__(status, cap.LENGTH_OVERFLOW_TEMPLATE.format(length=length, limit=limit))


class GatewayError(NimError):
    """An error of the gateway contract (``POST /v1/rerank``): FastAPI's ``{"detail": ...}``.

    Inferred: no capture of the gateway's errors exists; the gateway is a
    FastAPI service in front of the NIMs, so its errors are FastAPI's own.
    """

    def __init__(self, status: int, detail: object) -> None:
        body = render_json({"detail": detail}, compact=True)
        super().__init__(status, [("content-type", JSON)], body)


class GatewayValidationError(GatewayError):
    """422, FastAPI's list form: ``{"detail": [{"type", "loc", "msg"}, ...]}``, one per issue."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        detail = [
            {"type": issue.type, "loc": ["body", *issue.loc], "msg": issue.msg} for issue in issues
        ]
        super().__init__(422, detail)


class GatewayModelNotFoundError(GatewayError):
    """404, a model the catalogue does not know. Inferred wording."""

    def __init__(self, model: str) -> None:
        super().__init__(404, f"Model '{model}' not found")


class GatewayTokenOverflowError(GatewayError):
    """400 or 422, a pair over the token limit: the captured text as ``detail``."""

    def __init__(self, status: int, length: int, limit: int) -> None:
        super().__init__(status, cap.LENGTH_OVERFLOW_TEMPLATE.format(length=length, limit=limit))


class PollNotFoundError(NimError):
    """404 for a polled request id the emulator does not hold. Inferred body."""

    def __init__(self, request_id: str) -> None:
        detail = f"Request '{request_id}' not found"
        super().__init__(404, *_problem({"status": 404, "title": "Not Found", "detail": detail}))


class ProblemDetailsError(NimError):
    """Any other problem-details answer: the captured 429 and 502 bodies, or an inferred one.

    Captured: 429, 502 (:meth:`too_many_requests`, :meth:`bad_gateway`).
    Inferred (:meth:`inferred`): 4xx ``{"status":N,"title":...}`` like the 429
    capture (402 adds the ``detail`` "Cloud credits expired"), 5xx
    ``{"type":"about:blank","title":...,"status":N}`` like the 502 capture.
    """

    @classmethod
    def too_many_requests(cls) -> ProblemDetailsError:
        """429, captured body; no Retry-After header was ever reported."""
        return cls(429, [("content-type", PROBLEM_JSON)], cap.TOO_MANY_REQUESTS_429)

    @classmethod
    def bad_gateway(cls) -> ProblemDetailsError:
        """502, the reported body."""
        return cls(502, [("content-type", PROBLEM_JSON)], cap.BAD_GATEWAY_502)

    @classmethod
    def inferred(cls, status: int) -> ProblemDetailsError:
        """Any other 4xx or 5xx, in the shape of the 429 or the 502 capture."""
        body: dict[str, Any]
        if status == 402:
            body = {"status": 402, "title": phrase(402), "detail": "Cloud credits expired"}
        elif status < 500:
            body = {"status": status, "title": phrase(status)}
        else:
            body = {"type": "about:blank", "title": phrase(status), "status": status}
        return cls(status, *_problem(body))


class ReplayMismatchError(NimError):
    """599, a request the replayed cassette does not hold. Invented (emulator-only)."""

    def __init__(
        self, received: dict[str, Any], expected: dict[str, Any] | None, reason: str
    ) -> None:
        body = {
            "error": "reranker-nvidia emulator: no cassette interaction matches this request",
            "reason": reason,
            "received": received,
            "expected": expected,
        }
        super().__init__(599, [("content-type", JSON)], render_json(body, compact=False))


class ControlError(NimError):
    """An error of a ``/_emulator/`` control route. Invented: ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        body = render_json({"error": message}, compact=True)
        super().__init__(status, [("content-type", JSON)], body)


# ---- the emulator's own errors --------------------------------------------------------------


class EmulatorError(Exception):
    """Base class of the errors the emulator raises about its own input."""


class EmulatorConfigError(EmulatorError, ValueError):
    """An :class:`EmulatorConfig` field is out of range (negative latency, bad model id, …)."""


class FaultSpecError(EmulatorError, ValueError):
    """A fault spec does not follow the grammar (see ``FAULT_GRAMMAR`` and docs/emulator.md)."""


class CassetteError(EmulatorError, ValueError):
    """A cassette file is missing, is not YAML, or is not in vcrpy's format."""


class EmulatorServerError(EmulatorError):
    """The server could not listen on its address, or stopped before it was ready."""


class EmulatedConnectionDrop(httpx.RemoteProtocolError):
    """In-process stand-in for a server that closed the connection (no or partial response)."""


class EmulatedConnectionReset(httpx.ReadError):
    """In-process stand-in for a server that reset the connection (TCP RST)."""
