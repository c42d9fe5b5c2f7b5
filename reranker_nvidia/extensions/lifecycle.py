"""A model's end of life: a 410 answer, and ``Deprecation``/``Sunset`` headers (D-EXT-LIFECYCLE).

Python only. Go reads neither: a 410 is ``connection to NVIDIA API failed
with status: 410`` and a header is never looked at. Here a 410 is a
:class:`ModelRetiredError` (its message unchanged, so NVIDIA's own line, which
names the model and the date, follows Go's prefix), and an answer that
announces a model's end of life gives one :class:`ModelDeprecationWarning`
per model per client. Where NVIDIA has named the model's successor
(``successors.py``, a dated table with its sources), the hint, the warning and
``successor`` name it too; Go's message on Go's route stays as it was.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime

from ..errors import ModelDeprecationWarning, ModelRetiredError, UpstreamError
from .successors import successor_line, successor_of

__all__ = ["DeprecationNotices", "retired"]

_END_OF_LIFE = re.compile(r"end of life on (\d{4}-\d{2}-\d{2})")


def retired(err: UpstreamError, model: str, *, plain: bool = False) -> ModelRetiredError:
    """A 410's error as a :class:`ModelRetiredError`; its ``hint`` is one plain line.

    The line names the model's successor when the table knows it
    (``…; its successor is M``). With ``plain`` the message is Go's prefix and
    that line, in place of the body's own words; otherwise the message is
    unchanged.
    """
    text = err.detail or ""
    found = _END_OF_LIFE.search(text)
    date = found.group(1) if found else None
    when = f" on {date}" if date else ""
    line = f"model {model} was retired{when} and is no longer available"
    successor = successor_line(model)
    if successor is not None:
        line = f"{line}; {successor}"
    message = f"connection to NVIDIA API failed with status: {err.status} error: {line}"
    out = ModelRetiredError(
        message if plain else str(err),
        status=err.status,
        detail=err.detail,
        body=err.body,
        content_type=err.content_type,
        headers=err.headers,
        hint=line,
    )
    out.model = model
    out.retired_on = date
    row = successor_of(model)
    out.successor = None if row is None else row.successor
    return out


class DeprecationNotices:
    """Warns once per model, from any thread, when an answer announces its end of life."""

    __slots__ = ("_lock", "_seen")

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def notice(self, model: str, headers: Mapping[str, str]) -> None:
        """One :class:`ModelDeprecationWarning` for ``model`` if ``headers`` say it goes away."""
        lower = {name.lower(): value for name, value in headers.items()}
        deprecation = lower.get("deprecation")
        sunset = lower.get("sunset")
        if deprecation is None and sunset is None:
            return
        with self._lock:
            if model in self._seen:
                return
            self._seen.add(model)
        text = deprecation_text(model, deprecation, sunset)
        successor = successor_line(model)
        warning = ModelDeprecationWarning(text if successor is None else f"{text}; {successor}")
        row = successor_of(model)
        warning.model = model
        warning.successor = None if row is None else row.successor
        warnings.warn(warning, stacklevel=2)


def deprecation_text(model: str, deprecation: str | None, sunset: str | None) -> str:
    """``model M is deprecated since … and will be retired after …``, in one line."""
    parts = [f"model {model}"]
    if deprecation is not None:
        since = _date(deprecation)
        parts.append("is deprecated" + (f" since {since}" if since else ""))
    if sunset is not None:
        if deprecation is not None:
            parts.append("and")
        parts.append(f"will be retired after {_date(sunset) or sunset.strip()}")
    return " ".join(parts) + " (Deprecation/Sunset response headers)"


def _date(value: str) -> str | None:
    """RFC 9745's ``@<seconds>`` as a UTC date and time; an HTTP date as given; ``true``: None."""
    text = value.strip()
    if text.startswith("@"):
        try:
            when = datetime.fromtimestamp(int(text[1:]), tz=UTC)
        except (ValueError, OverflowError, OSError):
            return text
        return when.strftime("%Y-%m-%d %H:%M:%S UTC")
    if text.lower() in ("", "true", "?1"):
        return None
    return text
