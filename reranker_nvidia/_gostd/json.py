"""Go's ``encoding/json`` where its output or its errors show through.

``marshal`` writes the bytes Go's ``json.Marshal`` writes for the request
body (compact; ``<``, ``>``, ``&``, U+2028 and U+2029 escaped; a lone
surrogate replaced by U+FFFD), so a request made by this port is byte-for-byte
the request the Go module makes, and a cassette recorded from one replays for
the other. ``syntax_error`` words the common JSON syntax errors as Go does.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic_core

_SURROGATE = re.compile("[\ud800-\udfff]")
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
_GO_ESCAPES_UTF8 = tuple((raw.encode(), escaped.encode()) for raw, escaped in _GO_ESCAPES)
_LINE_SEPARATORS_LEAD = b"\xe2\x80"
"""The first two bytes of U+2028 and U+2029 in UTF-8: without them, neither needs a look."""


def marshal(value: Any) -> bytes:
    """Serialise ``value`` exactly as Go's ``json.Marshal`` would."""
    if _strings_only(value):
        return marshal_strings(value)
    return _marshal_any(value)


def marshal_strings(value: Any) -> bytes:
    """:func:`marshal` for a value its caller vouches is a request body's shape (see
    :func:`_strings_only`), its strings ``str`` or a subclass of it: the walk that checks
    the shape is skipped. ranker.py's request is one: its documents were checked once,
    when the call began."""
    try:
        out: bytes = _to_json(value)
    except _SerializationError:  # a lone surrogate: replaced by the slow path
        return _marshal_any(value)
    separators = _LINE_SEPARATORS_LEAD in out  # one scan rules out two, most times
    for raw_bytes, escaped_bytes in _GO_ESCAPES_UTF8 if separators else _GO_ESCAPES_UTF8[:3]:
        if raw_bytes in out:
            out = out.replace(raw_bytes, escaped_bytes)
    return out


def _marshal_any(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _GO_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


try:  # the `fast` extra: the same bytes, written some five times faster
    import orjson
except ImportError:  # pragma: no cover - the default install
    _to_json: Any = pydantic_core.to_json
    _SerializationError: Any = pydantic_core.PydanticSerializationError
    from_json: Any = pydantic_core.from_json
else:
    _to_json = orjson.dumps
    _SerializationError = (pydantic_core.PydanticSerializationError, orjson.JSONEncodeError)
    from_json = orjson.loads
"""``from_json(body)``: a JSON body read into plain values, or ``ValueError`` (orjson's
reader with the ``fast`` extra, else pydantic_core's). A body either reads differently
(a number past 64 bits, ``NaN``) is one the caller's fast check sends the slow way."""


def _strings_only(value: Any) -> bool:
    """Whether ``value`` is a request body's shape: an object of strings, objects of strings and
    lists of objects of strings, nothing else.

    Such a value is written by ``pydantic_core.to_json`` (Rust, a few times faster than
    ``json.dumps``), which escapes a string exactly as ``json.dumps(ensure_ascii=False)``
    does (``\\n``, ``\\t``, ``\\b``, ``\\f``, ``\\r``, ``\\u00XX`` for the other
    controls, nothing else); Go's extra escapes are applied to its bytes. Numbers, where
    the two differ in spelling, and anything else take ``json.dumps``.
    """
    if type(value) is not dict:
        return False
    for key, member in value.items():
        if type(key) is not str:
            return False
        kind = type(member)
        if kind is str:
            continue
        if kind is dict:
            members: Any = (member,)
        elif kind is list:
            members = member
        else:
            return False
        for item in members:
            if type(item) is not dict:
                return False
            for name, text in item.items():
                if type(name) is not str or type(text) is not str:
                    return False
    return True


def _quote_char(ch: str) -> str:
    """Go's ``quoteChar``: the character in single quotes, escaped when needed."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    if ch.isprintable():
        return f"'{ch}'"
    return "'" + json.dumps(ch)[1:-1] + "'"


def syntax_error(text: str, err: json.JSONDecodeError | None = None) -> str:
    """The message Go's decoder gives for a body that is not valid JSON.

    Go's wording is reproduced for the cases a reranker meets in practice (an
    empty body, a body that does not start like JSON, for example an HTML
    page, and a body cut short); any other fault is described by Python's
    decoder, as precisely but in other words.
    """
    stripped = text.lstrip(" \t\r\n")
    if stripped == "":
        return "unexpected end of JSON input"
    first = stripped[0]
    if first not in '{["-0123456789tfn':
        return f"invalid character {_quote_char(first)} looking for beginning of value"
    if err is None:
        try:
            json.loads(text)
        except json.JSONDecodeError as decode_error:
            err = decode_error
        except RecursionError:
            return "exceeded max depth"
        else:
            return "invalid JSON"
    if err.pos >= len(text.rstrip(" \t\r\n")) or err.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    return f"{err.msg} (at offset {err.pos})"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def loads(text: str | bytes) -> Any:
    """Decode JSON as strictly as Go does: no ``NaN`` or ``Infinity`` literals."""
    return json.loads(text, parse_constant=_reject_constant)
