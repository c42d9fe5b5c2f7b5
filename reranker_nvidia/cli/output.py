"""Writing results: JSON for programs, a table for people, progress on a terminal."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Bidirectional overrides and isolates reorder what follows them on screen.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    if unicodedata.category(char) == "Cc" or char in _BIDI:
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, bells, line
    breaks, bidirectional overrides) written as ``\\x1b``, ``\\n``, ``\\u202e``, …"""
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


# What JSON leaves as it is but a terminal obeys: DEL, the C1 controls, the bidi controls.
_JSON_UNSAFE = re.compile("[\x7f-\x9f" + "".join(sorted(_BIDI)) + "]")


def json_text(value: Any) -> str:
    """Strict JSON on one line, safe for a terminal, with the same value when read back.

    JSON escapes the C0 controls itself; DEL, the C1 controls (``\\x9b`` starts an
    escape sequence on some terminals) and the bidirectional controls are written
    ``\\u007f``, ``\\u009b``, ``\\u202e``, which any JSON reader decodes as the
    characters they stand for.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return _JSON_UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def format_score(score: float | None) -> str:
    """A score for reading: four decimals; empty for a document that was not reranked."""
    return "" if score is None else f"{score:.4f}"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int | None = None
) -> str:
    """A plain-text table; numbers right-aligned, the last column cut to fit ``width``."""
    if width is None:
        width = shutil.get_terminal_size(fallback=(120, 24)).columns
    headers = [printable(header) for header in headers]
    cells = [[printable(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    fixed = sum(widths[:-1]) + 2 * (len(headers) - 1)
    last = max(width - fixed, 20)

    def fit(cell: str) -> str:
        return cell if len(cell) <= last else cell[: last - 1] + "…"

    def line(row: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(row[:-1]):
            numeric = cell.lstrip("-+").replace(".", "", 1).isdigit()
            parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        parts.append(fit(row[-1]))
        return "  ".join(parts).rstrip()

    longest = max([len(headers[-1]), *(len(fit(row[-1])) for row in cells)])
    rule = "  ".join("-" * w for w in [*widths[:-1], longest])
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


class Progress:
    """``reranked N/M documents`` on stderr, redrawn in place, only on a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._active = self._stream.isatty()
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self._active:
            return
        self._stream.write(f"\rreranked {done}/{total} documents")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Remove the progress line, so what follows starts on a clean line."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False


class LoggedWarnings(logging.Handler):
    """The ``reranker_nvidia`` logger's warnings of one run, to be written as ``warning:`` lines.

    A call that fails open (D-EXT-FAIL-OPEN) logs one ``WARNING``; the command writes it as
    one ``warning: …`` line, once the run's output is done, instead of Python's own format.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        text = printable(record.getMessage())
        self.counts[text] = self.counts.get(text, 0) + 1

    def write(self, stream: TextIO) -> None:
        """Each distinct warning once, with how often it came when more than once."""
        for text, count in self.counts.items():
            times = f" ({count} times)" if count > 1 else ""
            stream.write(f"warning: {text}{times}\n")
        self.counts.clear()


@contextlib.contextmanager
def logged_warnings() -> Iterator[LoggedWarnings]:
    """Collect the ``reranker_nvidia`` logger's warnings while the block runs (not printed)."""
    logger = logging.getLogger("reranker_nvidia")
    handler = LoggedWarnings()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def usage_object(usage: Any) -> dict[str, Any]:
    """``--usage``'s JSON: a call's :class:`Usage` as an object (``null`` for a count not sent)."""
    return {
        "requests": usage.requests,
        "chunks": usage.chunks,
        "passages": usage.passages,
        "cache_hits": usage.cache_hits,
        "prompt_tokens": usage.prompt_tokens,
        "total_tokens": usage.total_tokens,
    }


def usage_line(usage: Any) -> str:
    """``--usage``'s footer on stderr: ``usage: 3 requests, 3 chunks, 1200 passages, …``."""
    tokens = "no token counts" if usage.total_tokens is None else f"tokens {usage.total_tokens}"
    counts = [
        _counted(usage.requests, "request"),
        _counted(usage.chunks, "chunk"),
        _counted(usage.passages, "passage"),
        _counted(usage.cache_hits, "cache hit"),
    ]
    return f"usage: {', '.join(counts)}, {tokens}"


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
