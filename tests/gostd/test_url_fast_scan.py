"""``url.parse``'s scans at C speed refuse exactly what the character loops they stand before
refuse: a control character anywhere, and in a host a ``%`` or an unsafe ASCII character."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia._gostd import url as gourl

HOSTISH = st.text(
    st.one_of(
        st.characters(max_codepoint=0x7F),
        st.sampled_from(["%", "é", "\ud800", "[", "]", ":", "\x7f", "\x00", "/"]),
        st.characters(),
    ),
    max_size=12,
)


def _looked_at_by_the_loop(host: str) -> bool:
    return any(ch == "%" or (ord(ch) < 0x80 and ch not in gourl._HOST_SAFE) for ch in host)


def _has_control(raw: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw)


@settings(max_examples=2000, deadline=None)
@given(HOSTISH)
def test_the_scans_find_what_the_loops_find(text: str) -> None:
    assert (gourl._HOST_LOOKED_AT.search(text) is not None) == _looked_at_by_the_loop(text)
    assert (gourl._CONTROL.search(text) is not None) == _has_control(text)
