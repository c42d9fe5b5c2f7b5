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

_SURROGATE = re.compile("[\ud800-\udfff]")
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def marshal(value: Any) -> bytes:
    """Serialise ``value`` exactly as Go's ``json.Marshal`` would."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _GO_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


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
