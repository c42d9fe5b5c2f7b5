"""The case files' placeholders, expanded as the runner expands them before a case is run."""

from __future__ import annotations

from reranker_contracts.suite import substitute


def test_padding_is_that_many_letters_a() -> None:
    got = substitute({"image": "data:image/png;base64,{{padding:6}}=="}, "http://127.0.0.1:1")
    assert got == {"image": "data:image/png;base64,AAAAAA=="}


def test_padding_and_the_base_together_in_nested_values() -> None:
    got = substitute(["{{base}}/x", {"a": ["{{padding:3}}{{padding:2}}"]}], "http://127.0.0.1:9")
    assert got == ["http://127.0.0.1:9/x", {"a": ["AAAAA"]}]


def test_a_string_without_placeholders_is_unchanged() -> None:
    assert substitute("{{padding:x}} {{pad:3}}", "http://h") == "{{padding:x}} {{pad:3}}"
