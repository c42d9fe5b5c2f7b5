"""The nesting bound's walk (``_json.depth_exceeds``) answers as the plain walk it replaced.

The walk was rewritten to open a level at a time with C loops; the plain
depth-first walk of commit ``497d331`` is kept here as the oracle and compared
on generated JSON values, around the bound and far from it. A valid NIM body
skips the walk (its shape is checked by hand and is 3 levels deep), so the
deep-body answers themselves are pinned in ``test_emulator_hostile_input.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nim_emulator._json import MAX_DEPTH, JsonTooDeepError, depth_exceeds, loads


def oracle_depth_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """``depth_exceeds`` as of 497d331."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=4)
    ),
    max_leaves=40,
)


def nest(value: object, levels: int, kind: str) -> object:
    for i in range(levels):
        value = [value] if kind == "list" or (kind == "mixed" and i % 2) else {"k": value}
    return value


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=8))
def test_the_walk_answers_as_the_plain_walk(value: object, limit: int) -> None:
    assert depth_exceeds(value, limit) == oracle_depth_exceeds(value, limit)


@pytest.mark.parametrize("kind", ["list", "dict", "mixed"])
@pytest.mark.parametrize("levels", [0, 1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 3000])
@pytest.mark.parametrize("leaf", [1, [], {}, "x", [[], {"a": []}]])
def test_the_bound_is_where_it_was(kind: str, levels: int, leaf: object) -> None:
    value = nest(leaf, levels, kind)
    wide = [[0] * 50, value, {"a": [1, 2, {"b": value}]}]
    for item in (value, wide):
        assert depth_exceeds(item) == oracle_depth_exceeds(item)


def test_loads_still_refuses_a_deep_text_and_reads_a_wide_one() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(JsonTooDeepError):
        loads(deep)
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    wide = json.dumps({"passages": [{"text": "[{"} for _ in range(600)]})
    assert len(loads(wide.encode())["passages"]) == 600
