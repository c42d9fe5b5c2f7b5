"""Go's ``time.ParseDuration``, which reads ``MODULES_CLIENT_TIMEOUT``.

Ported behaviour of Go's standard library (``time/format.go``); the error
texts are Go's, because Weaviate prints them verbatim.
"""

from __future__ import annotations

_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

# Go stores a duration as int64 nanoseconds.
_MAX_NANOSECONDS = (1 << 63) - 1


class DurationError(ValueError):
    """A string that Go's ``time.ParseDuration`` rejects; the text is Go's."""


def _quote(s: str) -> str:
    """Go's ``time.quote``: non-ASCII and control bytes as ``\\xNN``."""
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_duration(text: str) -> float:
    """Parse a Go duration string (``"50s"``, ``"1m30s"``, ``"500ms"``) into seconds.

    Accepts exactly what ``time.ParseDuration`` accepts: an optional sign, then
    one or more decimal numbers each followed by a unit; ``"0"`` needs no unit.
    """
    original = text
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if s == "":
        raise DurationError(f"time: invalid duration {_quote(original)}")
    total_ns = 0
    while s:
        # The number: digits, optionally a dot and more digits.
        i = 0
        while i < len(s) and s[i].isascii() and s[i].isdigit():
            i += 1
        int_part = s[:i]
        s = s[i:]
        frac_part = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and s[j].isascii() and s[j].isdigit():
                j += 1
            frac_part = s[:j]
            s = s[j:]
            if int_part == "" and frac_part == "":
                raise DurationError(f"time: invalid duration {_quote(original)}")
        elif int_part == "":
            raise DurationError(f"time: invalid duration {_quote(original)}")
        # The unit: everything up to the next digit or dot.
        k = 0
        while k < len(s) and s[k] != "." and not (s[k].isascii() and s[k].isdigit()):
            k += 1
        unit = s[:k]
        s = s[k:]
        if unit == "":
            raise DurationError(f"time: missing unit in duration {_quote(original)}")
        if unit not in _UNITS:
            raise DurationError(f"time: unknown unit {_quote(unit)} in duration {_quote(original)}")
        unit_ns = round(_UNITS[unit] * 1e9)
        value_ns = int(int_part or "0") * unit_ns
        if frac_part:
            value_ns += int(frac_part) * unit_ns // (10 ** len(frac_part))
        total_ns += value_ns
        if total_ns > _MAX_NANOSECONDS:
            raise DurationError(f"time: invalid duration {_quote(original)}")
    return (-total_ns if negative else total_ns) / 1e9
