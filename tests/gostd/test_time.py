"""Go's ``time.ParseDuration``, as the port reproduces it (reranker_nvidia/_gostd/time.py)."""

from __future__ import annotations

import pytest

from reranker_nvidia._gostd.time import DurationError, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("-0", 0.0),
        ("+0", 0.0),
        ("50s", 50.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("-2m", -120.0),
        ("1h2m3s4ms5us6ns", 3723.004005006),
        ("1µs", 1e-6),
        ("1μs", 1e-6),
        ("3ns", 3e-9),
        ("9223372036s", 9223372036.0),
    ],
)
def test_parse_duration_accepts_what_go_accepts(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        ("s", 'time: invalid duration "s"'),
        (".", 'time: invalid duration "."'),
        (".s", 'time: invalid duration ".s"'),
        ("5", 'time: missing unit in duration "5"'),
        ("50", 'time: missing unit in duration "50"'),
        ("3x", 'time: unknown unit "x" in duration "3x"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("1 s", 'time: unknown unit " s" in duration "1 s"'),
        ("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"'),
        ('1"', 'time: unknown unit "\\"" in duration "1\\""'),
        ("9999999999h", 'time: invalid duration "9999999999h"'),
    ],
)
def test_parse_duration_rejects_with_gos_text(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert str(caught.value) == message
