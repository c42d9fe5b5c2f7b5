"""Property 10: ``marshal`` writes Go's JSON bytes, which decode back to the same value.

Go escapes ``<``, ``>``, ``&``, U+2028 and U+2029 and replaces invalid UTF-8
(here: lone surrogates, which a Python ``str`` may hold) by U+FFFD.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia._gostd.json import marshal
from tests.property._support import PROPERTY, finite_floats, same_json

# Text that favours the characters Go treats specially, lone surrogates included.
SPECIAL = st.sampled_from(["<", ">", "&", "\u2028", "\u2029", '"', "\\", "\x00", "\x7f", "é", "😀"])
CHARS = st.one_of(st.characters(), st.characters(categories=["Cs"]), SPECIAL)
TEXTS = st.text(CHARS, max_size=12)

VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), finite_floats, TEXTS),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXTS, children, max_size=4)
    ),
    max_leaves=12,
)

_SURROGATE = re.compile("[\ud800-\udfff]")


def replaced(value: Any) -> Any:
    """``value`` with every lone surrogate replaced by U+FFFD (keys too)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replaced(item) for item in value]
    if isinstance(value, dict):
        return {replaced(k): replaced(v) for k, v in value.items()}
    return value


# 600 examples (a few hundred µs each): nested values up to 12 leaves with
# strings rich in <, >, &, U+2028/9, quotes, controls, astral characters and
# lone surrogates, as keys and as values.
@settings(PROPERTY, max_examples=600)
@given(VALUES)
def test_marshal_round_trips_and_escapes_like_go(value: Any) -> None:
    out = marshal(value)
    assert isinstance(out, bytes)
    text = out.decode("utf-8")  # strict: the bytes are valid UTF-8
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    # Types survive exactly (1 stays an int, 1.0 a float, -0.0 keeps its sign).
    assert same_json(json.loads(out), replaced(value))
