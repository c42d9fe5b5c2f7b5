"""Go's ``encoding/json``, as the port reproduces it (reranker_nvidia/_gostd/json.py)."""

from __future__ import annotations

import pytest

from reranker_nvidia._gostd import json as gojson


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": "<b>&"}, b'{"a":"\\u003cb\\u003e\\u0026"}'),
        ({"a": "line\u2028sep\u2029"}, b'{"a":"line\\u2028sep\\u2029"}'),
        ({"a": "caf\u00e9 \U0001f600"}, '{"a":"caf\u00e9 \U0001f600"}'.encode()),
        ({"a": '\n\t"\\\x01\x7f'}, b'{"a":"\\n\\t\\"\\\\\\u0001\x7f"}'),
        ({"a": "lone \ud800 surrogate"}, '{"a":"lone \ufffd surrogate"}'.encode()),
        ([1, 2.5, None, True], b"[1,2.5,null,true]"),
    ],
)
def test_marshal_writes_gos_bytes(value: object, expected: bytes) -> None:
    assert gojson.marshal(value) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected end of JSON input"),
        ("  \n", "unexpected end of JSON input"),
        ("<html>", "invalid character '<' looking for beginning of value"),
        ("Header of type", "invalid character 'H' looking for beginning of value"),
        ("'x'", "invalid character '\\'' looking for beginning of value"),
        ('"', "unexpected end of JSON input"),
        ("\x00", "invalid character '\\u0000' looking for beginning of value"),
        ('{"a": 1', "unexpected end of JSON input"),
        ('{"a": 1} x', "Extra data (at offset 9)"),
        ('{"a" 1}', "Expecting ':' delimiter (at offset 5)"),
        ('{"a": 1}', "invalid JSON"),
    ],
)
def test_syntax_error_words_common_faults_as_go(text: str, message: str) -> None:
    assert gojson.syntax_error(text) == message


def test_loads_rejects_nan_and_infinity_as_go_does() -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="invalid character"):
            gojson.loads(f'{{"x": {literal}}}')
    assert gojson.loads('{"x": 1}') == {"x": 1}
