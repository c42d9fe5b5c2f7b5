"""Reading the command line's input: documents as lines, or search results as JSON Lines."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from reranker_nvidia.errors import RerankerError


class InputError(RerankerError):
    """The command line's input cannot be read: bad JSON Lines, invalid UTF-8, …"""


@dataclass(frozen=True, slots=True)
class Line:
    """One input line: its number (from 1) and its text."""

    number: int
    text: str


READING_A_TERMINAL = (
    "reading documents from standard input (end with Ctrl-D; --input FILE reads a file)\n"
)
"""What ``rerank`` says, on stderr, before it waits for a terminal's input."""


def read_bytes(
    source: str, stdin: BinaryIO | None = None, *, notice: TextIO | None = None
) -> bytes:
    """All bytes of ``source``: a file path, or ``-`` for standard input.

    When standard input is a terminal, :data:`READING_A_TERMINAL` is written to
    ``notice`` first, so that a command waiting for input does not look hung.
    """
    if source == "-":
        if stdin is None and notice is not None and _is_terminal(sys.stdin):
            notice.write(READING_A_TERMINAL)
            notice.flush()
        stream = stdin if stdin is not None else sys.stdin.buffer
        return stream.read()
    try:
        return Path(source).read_bytes()
    except OSError as err:
        reason = err.strerror or str(err)
        raise InputError(f"cannot read input {source}: {reason}") from None


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no stdin, or a closed one
        return False


def decode(data: bytes) -> str:
    """Strict UTF-8 (a leading byte-order mark is dropped); the error says where it broke."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"input is not valid UTF-8: byte 0x{data[err.start]:02x} at line {line}, "
            f"column {column} ({err.reason})"
        ) from None
    return text.removeprefix("\ufeff")


def split_lines(text: str) -> list[Line]:
    """Lines split on ``\\n`` only, less a ``\\r`` before it; none after a final newline."""
    if text == "":
        return []
    pieces = text.split("\n")
    if pieces[-1] == "":
        pieces.pop()
    return [Line(number, piece.removesuffix("\r")) for number, piece in enumerate(pieces, start=1)]


def _blank(line: Line) -> bool:
    return line.text.strip() == ""


def read_lines(data: bytes) -> list[Line]:
    """One document per line, with its line number; blank lines (empty or only white space)
    are not documents, as in JSON Lines."""
    return [line for line in split_lines(decode(data)) if not _blank(line)]


def read_documents(data: bytes) -> list[str]:
    """The documents of :func:`read_lines`, without their line numbers."""
    return [line.text for line in read_lines(data)]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _OutOfRangeError(ValueError):
    """A JSON number too large for a 64-bit float (``1e400``): it would read as infinity."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRangeError(text)
    return value


_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def read_objects(data: bytes) -> list[dict[str, Any]]:
    """The objects of :func:`read_numbered_objects`, without their line numbers."""
    return [obj for _, obj in read_numbered_objects(data)]


def read_numbered_objects(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """One JSON object per line, with its line number; blank lines are skipped; errors name
    the line. Numbers must be finite (``NaN``, ``Infinity`` and ``1e400`` are refused), so
    that what is written back is strict JSON."""
    objects: list[tuple[int, dict[str, Any]]] = []
    for line in split_lines(decode(data)):
        if _blank(line):
            continue
        try:
            value = json.loads(
                line.text, parse_constant=_reject_constant, parse_float=_finite_float
            )
        except _OutOfRangeError as err:
            raise InputError(
                f"input line {line.number}: the number {err} is out of range for a 64-bit float"
            ) from None
        except json.JSONDecodeError as err:
            raise InputError(
                f"input line {line.number} is not valid JSON: {err.msg} (column {err.colno})"
            ) from None
        except ValueError as err:
            raise InputError(f"input line {line.number} is not valid JSON: {err}") from None
        if not isinstance(value, dict):
            kind = "null" if value is None else _KINDS.get(type(value), type(value).__name__)
            raise InputError(f"input line {line.number} is {kind}, not a JSON object")
        additional = value.get("_additional")
        if additional is not None and not isinstance(additional, dict):
            kind = _KINDS.get(type(additional), type(additional).__name__)
            raise InputError(f"input line {line.number}: _additional must be an object, not {kind}")
        objects.append((line.number, value))
    return objects


_SHOWN_PROPERTIES = 12


def property_fault(properties: Sequence[Mapping[str, Any]], name: str) -> str | None:
    """Why ``name`` gives none of these results a document, or ``None`` when one has it as text.

    Weaviate ranks a result without the property (or with a value that is not
    text) as ``""``, which NVIDIA refuses; when no result has it, nothing is
    worth sending. ``reranker-nvidia rerank --property`` and
    ``reranker_nvidia.weaviate.rerank`` refuse with this text, before sending.
    """
    if not properties or any(isinstance(obj.get(name), str) for obj in properties):
        return None
    if not any(name in obj for obj in properties):
        seen = sorted({key for obj in properties for key in obj if key != "_additional"})
        shown = ", ".join(seen[:_SHOWN_PROPERTIES]) or "none"
        if len(seen) > _SHOWN_PROPERTIES:
            shown += f", … ({len(seen)} in all)"
        return f"no search result has the property {name!r} (properties seen: {shown})"
    return (
        f"no search result has a string in property {name!r} "
        '(Weaviate would send every document as "")'
    )
