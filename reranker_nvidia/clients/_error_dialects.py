"""How ``get_response_error`` says more than Go: NVIDIA's error dialects, masked.

Go's ``getResponseError`` reads two shapes (``responseError402``,
``responseError422``) for three statuses. NVIDIA's hosted service, a
self-hosted NIM and the proxies in front of them answer in more dialects; each
helper here reads one of them and carries the D-id of docs/divergences.md that
it implements. Every text an error shows is masked first (D-SECRET-REDACT).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic_core import ValidationError

from .._gostd import json as gojson
from ..errors import (
    ErrorResponseParseError,
    RedirectError,
    RerankerError,
    TokenLimitError,
    UpstreamError,
)
from ._secrets import redact, redact_bytes
from ._wire import WireStruct

_Shape = TypeVar("_Shape", bound=WireStruct)


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """A non-200 answer as ``get_response_error`` reads it: decoded once, masked first."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    """Lower-case names."""
    secrets: Sequence[str]
    text: str
    """The body as text, with every secret masked, so no later cut leaves part of a key behind."""
    document: Any
    """The body's JSON value, or ``None`` when it is not JSON (then ``syntax`` says why)."""
    syntax: str | None
    first_index: int = 0
    """Where the request's passages start in the caller's documents (the chunk's offset)."""

    @classmethod
    def read(
        cls,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None,
        secrets: Sequence[str],
        first_index: int = 0,
    ) -> ErrorAnswer:
        body = redact_bytes(body, secrets)  # D-SECRET-EVERY-COPY: the raw body is kept too
        text = redact(body.decode("utf-8", "replace"), secrets)  # D-SECRET-REDACT
        document: Any = None
        syntax: str | None = None
        try:
            document = gojson.loads(text)
        except (ValueError, RecursionError) as err:
            syntax = _syntax_error(text, err)
        # D-SECRET-EVERY-COPY: the headers travel on the error, so an echoed key is masked there too
        lower = {name.lower(): redact(value, secrets) for name, value in (headers or {}).items()}
        return cls(status, body, lower, tuple(secrets), text, document, syntax, first_index)

    @property
    def prefix(self) -> str:
        return f"connection to NVIDIA API failed with status: {self.status}"

    def decode(self, shape: type[_Shape]) -> _Shape | ErrorResponseParseError:
        """Go's ``json.Unmarshal(bodyBytes, &resBody)`` into ``shape``, or its error."""
        if self.syntax is not None:
            return self.unparsable(self.syntax)
        # JSON null leaves Go's struct at its zero value: read as an empty object.
        value = {} if self.document is None else self.document
        try:
            return shape.model_validate(value)
        except ValidationError as err:
            return self.unparsable(error_body_fault(err))

    def unparsable(self, reason: str) -> ErrorResponseParseError:
        return ErrorResponseParseError(
            f"failed to parse reranker error response (status {self.status}): {reason}",
            status=self.status,
        )

    def upstream(self, detail: str | None) -> UpstreamError:
        """``…failed with status: N``, and `` error: <detail>`` when there is a detail."""
        content_type = self.headers.get("content-type", "")
        if detail is None:
            return UpstreamError(
                self.prefix,
                status=self.status,
                body=self.body,
                content_type=content_type,
                headers=self.headers,
            )
        detail = redact(detail, self.secrets)  # D-SECRET-REDACT: a JSON escape may spell a key
        detail = _cut_characters(detail) + _named_documents(
            detail, self.first_index
        )  # D-DETAIL-CUT
        return UpstreamError(
            f"{self.prefix} error: {detail}",
            status=self.status,
            detail=detail,
            body=self.body,
            content_type=content_type,
            headers=self.headers,
        )


# --------------------------------------------------------------------------
# One helper per divergence
# --------------------------------------------------------------------------


def error_body_fault(err: ValidationError) -> str:
    """D-PARSE-REASON: the first fault of an error body, in words that name no Go type."""
    # The shortest location first: a list that holds a non-object is reported before a bad msg.
    first = min(err.errors(), key=lambda fault: len(fault["loc"]))
    location = first["loc"]
    if location == ():
        return f"json: cannot unmarshal {json_kind(first['input'])} into an error object"
    if len(location) == 1:
        return f"json: cannot unmarshal {json_kind(first['input'])} into detail"
    if len(location) == 2:
        return "json: detail must be a list of objects"
    return "json: detail[].msg must be a string"


def rank_response_fault(err: ValidationError, body: bytes) -> str:
    """D-PARSE-REASON: Go's syntax error texts; a type fault named by its member."""
    first = err.errors(include_input=False)[0]
    if first["type"] == "json_invalid":
        text = body.decode("utf-8", "replace")
        try:
            return gojson.syntax_error(text)
        except ValueError as fault:  # a number Python's int parser refuses
            return _syntax_error(text, fault)
    location = ".".join(str(part) for part in first["loc"]) or "response"
    return f"{location}: {first['msg']}"


def joined_msgs(answer: ErrorAnswer, detail: Sequence[Any]) -> str:
    """D-422-JOIN: every ``msg`` of a FastAPI list, where Go repeats the first.

    D-DETAIL-CUT: a ``msg`` whose ``loc`` is a passage (``body.passages.N…``)
    names the document's index in the caller's input, and a list too long to
    read is cut, with a count of the entries left out.
    """
    raw = answer.document.get("detail") if isinstance(answer.document, dict) else None
    locations = raw if isinstance(raw, list) else []
    parts: list[str] = []
    for position, item in enumerate(detail):
        msg = redact(item.msg or "", answer.secrets)  # before any cut: no part of a key stays
        entry = locations[position] if position < len(locations) else None
        index = _passage_index(entry.get("loc") if isinstance(entry, dict) else None)
        if index is not None:
            msg = f"{msg} (document {answer.first_index + index})"
        parts.append(msg)
    return _cut_entries(parts)


DETAIL_LIMIT = 300
"""Characters of a detail shown before it is cut (D-DETAIL-CUT)."""

_CHARACTER_LIMIT = 1000
"""Characters of a one-string detail shown before it is cut (D-DETAIL-CUT)."""


def _passage_index(location: Any) -> int | None:
    """``N`` of a FastAPI ``loc`` ``["body", "passages", N, …]``, else ``None``."""
    if not isinstance(location, list) or len(location) < 3:
        return None
    body, passages, index = location[:3]
    if body != "body" or passages != "passages" or isinstance(index, bool):
        return None
    return index if isinstance(index, int) and index >= 0 else None


_STRING_LOCATION = re.compile(r"\bbody -> (?:passages|documents) -> (\d{1,9})\b")
"""NVIDIA's string form of a FastAPI ``loc``: ``body -> passages -> 88 -> text``."""


def _named_documents(detail: str, first_index: int) -> str:
    """D-DETAIL-CUT: `` (document M)`` for each passage a string detail names, else ``""``.

    NVIDIA's string detail names a passage by its index in the request; M is
    that index plus the chunk's offset, the document's index in the caller's
    input, as :func:`joined_msgs` names a list entry's.
    """
    found = _STRING_LOCATION.findall(detail)
    indices = list(dict.fromkeys(first_index + int(index) for index in found))
    if len(indices) <= 1:
        return f" (document {indices[0]})" if indices else ""
    shown = ", ".join(map(str, indices[:_NAMED_LIMIT]))
    more = f", … ({len(indices)} in all)" if len(indices) > _NAMED_LIMIT else ""
    return f" (documents {shown}{more})"


_NAMED_LIMIT = 10
"""Documents a string detail's suffix names before it counts the rest."""


def _cut_entries(parts: Sequence[str]) -> str:
    """The entries joined; past :data:`DETAIL_LIMIT`, repeats dropped and the rest counted."""
    joined = " ".join(parts)
    if len(joined) <= DETAIL_LIMIT:
        return joined
    shown: list[str] = []
    length = 0
    for part in dict.fromkeys(parts):
        if shown and length + 1 + len(part) > DETAIL_LIMIT:
            break
        shown.append(part)
        length += len(part) + 1
    text = " ".join(shown)
    if len(text) > DETAIL_LIMIT:
        text = text[: DETAIL_LIMIT - 1].rstrip() + "…"
    return f"{text} … ({len(parts) - len(shown)} more)"


def _cut_characters(detail: str) -> str:
    """A one-string detail past :data:`_CHARACTER_LIMIT` characters, cut with a count."""
    if len(detail) <= _CHARACTER_LIMIT:
        return detail
    left_out = len(detail) - _CHARACTER_LIMIT
    return f"{detail[:_CHARACTER_LIMIT]}… ({left_out} more characters)"


_TOKEN_OVERFLOW = re.compile(r"Input length (\d+) exceeds maximum allowed token size (\d+)")


def token_limit(err: UpstreamError, first_index: int, passages: int) -> TokenLimitError | None:
    """D-EXT-TOKEN-LIMIT: a 400/422 saying the input passed the token limit, else ``None``.

    The message stays what it was; ``hint`` suggests ``truncate END`` and
    names the passage (its index in the caller's documents) when a FastAPI
    ``loc`` names it or the chunk holds one passage only.
    """
    text = err.body.decode("utf-8", "replace")
    found = _TOKEN_OVERFLOW.search(text)
    if found is None:
        return None
    index: int | None = None
    try:
        document = gojson.loads(text)
    except (ValueError, RecursionError):
        document = None
    detail = document.get("detail") if isinstance(document, dict) else None
    for entry in detail if isinstance(detail, list) else []:
        if not isinstance(entry, dict) or not _TOKEN_OVERFLOW.search(str(entry.get("msg", ""))):
            continue
        position = _passage_index(entry.get("loc"))
        if position is not None:
            index = first_index + position
            break
    if index is None and passages == 1:
        index = first_index
    tokens, limit = int(found.group(1)), int(found.group(2))
    which = f"passage {index}" if index is not None else "a passage"
    out = TokenLimitError(
        str(err),
        status=err.status,
        detail=err.detail,
        body=err.body,
        content_type=err.content_type,
        headers=err.headers,
        hint=(
            f"{which} and the query exceed the model's limit of {limit} tokens ({tokens}): "
            "set truncate END to cut each passage to fit"
        ),
    )
    out.passage_index = index
    out.input_tokens = tokens
    out.max_tokens = limit
    return out


def string_detail(answer: ErrorAnswer, shape: type[WireStruct]) -> str | None:
    """D-DETAIL-STRING: a string ``detail`` (NVIDIA's RFC 7807 body), read with ``shape``."""
    decoded = answer.decode(shape)
    detail = getattr(decoded, "detail", None)
    return detail if isinstance(detail, str) else None


def list_detail(answer: ErrorAnswer, shape: type[WireStruct]) -> str | None:
    """D-DETAIL-LIST: a FastAPI ``detail`` list, read with ``shape``, for any status."""
    decoded = answer.decode(shape)
    detail = getattr(decoded, "detail", None)
    return joined_msgs(answer, detail) if isinstance(detail, list) else None


def nim_message(answer: ErrorAnswer) -> str | None:
    """D-DETAIL-MESSAGE: a self-hosted NIM's ``message``, when there is no ``detail``."""
    decoded = answer.decode(NimError)
    return decoded.message if isinstance(decoded, NimError) else None


def text_body(answer: ErrorAnswer) -> str | None:
    """D-TEXT-BODY: a short, one-line text of a non-empty body that is not JSON."""
    if answer.syntax is None:
        return None
    return excerpt(answer.text, answer.headers.get("content-type", "")) or None


def nvcf_in_progress(answer: ErrorAnswer) -> str | None:
    """D-NVCF-202: a 202 from NVCF is a request it accepted and did not finish."""
    request_id = answer.headers.get("nvcf-reqid")
    if answer.status != 202 or not request_id:
        return None
    return (
        f"NVCF accepted the request (nvcf-reqid {request_id}) "
        "but did not finish it; polling is not supported"
    )


def redirect_not_followed(answer: ErrorAnswer) -> RedirectError:
    """D-REDIRECT: a 3xx says where it pointed."""
    location = answer.headers.get("location")
    location = redact(location, answer.secrets) if location is not None else None
    where = f"redirect to {location} not followed" if location else "redirect not followed"
    return RedirectError(f"{answer.prefix} error: {where}", status=answer.status, location=location)


def _syntax_error(text: str, err: ValueError | RecursionError) -> str:
    """Go's syntax error text; D-PARSE-REASON for an integer too long for Python."""
    if isinstance(err, json.JSONDecodeError):
        return gojson.syntax_error(text, err)
    if isinstance(err, ValueError) and "integer string conversion" in str(err):
        return "json: a number has more digits than can be read"
    try:
        return gojson.syntax_error(text, None)
    except (ValueError, RecursionError):
        return "json: the body cannot be read as JSON"


# --------------------------------------------------------------------------
# The text of a body that is not JSON
# --------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")
_EXCERPT_LIMIT = 200
_EXCERPT_SCAN = 64 * 1024
"""Bytes of a body looked at for the excerpt: enough for any error page's words."""


def excerpt(text: str, content_type: str) -> str:
    """A short, one-line text of a non-JSON body; HTML is reduced to its words."""
    text = text[:_EXCERPT_SCAN]
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        text = html_words(text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > _EXCERPT_LIMIT:
        text = text[: _EXCERPT_LIMIT - 1].rstrip() + "…"
    return text


def html_words(text: str) -> str:
    """The words of an HTML page, without tags, scripts and styles, in one pass."""
    lower = text.lower()
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        start = text.find("<", i)
        if start == -1:
            out.append(text[i:])
            break
        out.append(text[i:start])
        end = text.find(">", start)
        if end == -1:  # an unterminated tag: the rest is markup
            break
        out.append(" ")
        name = lower[start + 1 : end].split(None, 1)[0] if end > start + 1 else ""
        i = end + 1
        if name in ("script", "style"):
            close = lower.find(f"</{name}", i)
            if close == -1:
                break
            after = text.find(">", close)
            i = n if after == -1 else after + 1
    return html.unescape("".join(out))


def json_kind(value: Any) -> str:
    """The JSON type of a decoded value, in Go's words (``number``, ``array``, …)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------
# The dialects' shapes (Go declares only responseError402 and responseError422)
# --------------------------------------------------------------------------


class ProblemDetails(WireStruct):
    """NVIDIA's hosted error body (RFC 7807): ``detail`` is a string (D-DETAIL-STRING)."""

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    requestId: str | None = None  # noqa: N815 - the wire name


class NimError(WireStruct):
    """A self-hosted NIM's error body: ``{"object": "error", "message": …}`` (D-DETAIL-MESSAGE)."""

    object: str = "error"
    message: str


# --------------------------------------------------------------------------
# get_response_error's fallbacks, where Go reads too little
# --------------------------------------------------------------------------


def listed_detail(answer: ErrorAnswer, list_shape: type[Any]) -> RerankerError:
    """D-DETAIL-LIST for 402/403: a FastAPI list where Go wants a string, read as 422 reads it."""
    res_422 = answer.decode(list_shape)
    if isinstance(res_422, ErrorResponseParseError):
        return res_422
    return answer.upstream(joined_msgs(answer, res_422.detail or []))


def more_than_the_status(
    answer: ErrorAnswer, string_shape: type[WireStruct], list_shape: type[WireStruct]
) -> str | None:
    """For any other status, the first text a dialect gives; ``None`` keeps Go's bare status."""
    said = (
        string_detail(answer, string_shape),  # D-DETAIL-STRING
        list_detail(answer, list_shape),  # D-DETAIL-LIST
        nim_message(answer),  # D-DETAIL-MESSAGE
        text_body(answer),  # D-TEXT-BODY
        nvcf_in_progress(answer),  # D-NVCF-202
    )
    return next((text for text in said if text is not None), None)
