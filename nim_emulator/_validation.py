"""Request-body validation for the reranking routes, and its two error texts.

Not a port of a Go file. The schema is reference/nim-api.md's "Request"
table: ``model`` a string of 1-128 characters; ``query`` an object
``{"text": str}``; ``passages`` a list of 1 or more ``{"text": str}``; every
``text`` at least 1 character; ``truncate`` ``"NONE"`` or ``"END"`` (or
absent/null); no other field anywhere. The passage maximum (512, or 1000 for
the vision-language model) depends on the model and is checked by the caller
with :func:`too_many_passages`.

Pydantic does the checking, so messages and types are pydantic 2's own, as a
FastAPI service produces them. Two renderings (both *inferred*: no hosted
reranking 422 body and no self-hosted schema error besides ``top_k`` was ever
captured):

* hosted — NVIDIA's problem-details ``detail`` string, as in the garak capture:
  ``body -> passages -> 0 -> text\\n  String should have at least 1 character
  (type=string_too_short)``, one such entry per error, joined by ``\\n``;
* self-hosted — one line for the first error, ``passages[0].text: String should
  have at least 1 character``; an unknown top-level field gives the captured
  ``top_k: unknown field, expected one of model, query, passages, truncate``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nim_emulator._captures import SELF_HOSTED_UNKNOWN_FIELD_TEMPLATE

__all__ = [
    "Issue",
    "RerankRequest",
    "hosted_detail",
    "self_hosted_message",
    "too_many_passages",
    "validate_body",
]


class TextObject(BaseModel):
    """``{"text": str}``, the shape of the query and of each passage."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)


class RerankRequest(BaseModel):
    """A valid reranking request body."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=128)
    query: TextObject
    passages: list[TextObject] = Field(min_length=1)
    truncate: Literal["NONE", "END"] | None = None


@dataclass(frozen=True)
class Issue:
    """One validation error: where (``loc``, inside the body), what, and pydantic's type."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


def validate_body(body: bytes) -> RerankRequest | list[Issue]:
    """The parsed request, or the list of what is wrong with it (never empty)."""
    if not body.strip():
        return [Issue((), "Field required", "missing")]
    try:
        data = json.loads(body)
    except ValueError as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        return [Issue((position,), "JSON decode error", "json_invalid")]
    try:
        # from_attributes=True: validate as FastAPI does, so the messages are FastAPI's.
        return RerankRequest.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        return [
            Issue(tuple(error["loc"]), error["msg"], error["type"])
            for error in exc.errors(include_url=False)
        ]


def too_many_passages(count: int, maximum: int) -> Issue | None:
    """The error for more than ``maximum`` passages, worded as pydantic words it."""
    if count <= maximum:
        return None
    return Issue(
        ("passages",),
        f"List should have at most {maximum} items after validation, not {count}",
        "too_long",
    )


def hosted_detail(issues: list[Issue]) -> str:
    """The ``detail`` of the hosted 422 problem details (module docstring)."""
    return "\n".join(
        " -> ".join(["body", *(str(part) for part in issue.loc)])
        + f"\n  {issue.msg} (type={issue.type})"
        for issue in issues
    )


def self_hosted_message(issues: list[Issue]) -> str:
    """The ``message`` of the self-hosted 400 error: the first issue only (module docstring)."""
    issue = issues[0]
    path = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in issue.loc
    ).lstrip(".")
    if issue.type == "extra_forbidden":
        if len(issue.loc) == 1:
            return SELF_HOSTED_UNKNOWN_FIELD_TEMPLATE.format(field=path)
        return f"{path}: unknown field, expected text"
    if issue.type == "json_invalid":
        return f"body: invalid JSON at character {issue.loc[0]}"
    return f"{path or 'body'}: {issue.msg}"
