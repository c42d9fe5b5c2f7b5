"""ranker.py stays ranker.go's size: at most twice Go's code lines, ``perform_rank`` too.

Go's figures are of modules/reranker-nvidia/clients/ranker.go at weaviate/weaviate
``adcffc5``: 215 code lines (neither blank nor comment), ``performRank`` 46 lines
(``ranker.go:100-145``). Code lines here are neither blank, nor comment, nor docstring.
Run as a script, it prints the figures: ``python tests/project/test_twin_size.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

RANKER = Path(__file__).resolve().parents[2] / "reranker_nvidia" / "clients" / "ranker.py"
GO_CODE_LINES = 215
GO_PERFORM_RANK_LINES = 46


def code_lines(source: str) -> int:
    """Lines that are neither blank, nor a comment, nor part of a docstring or string statement."""
    strings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        is_string = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_string and isinstance(node.value.value, str):  # type: ignore[attr-defined]
            strings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return sum(
        1
        for number, line in enumerate(source.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#") and number not in strings
    )


def function_lines(source: str, name: str) -> int:
    """The lines of the module-level function ``name``, its signature and docstring included."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return (node.end_lineno or node.lineno) - node.lineno + 1
    raise AssertionError(f"no function {name}")


def test_ranker_py_is_at_most_twice_ranker_go() -> None:
    assert code_lines(RANKER.read_text(encoding="utf-8")) <= 2 * GO_CODE_LINES


def test_perform_rank_is_at_most_twice_go_s() -> None:
    assert (
        function_lines(RANKER.read_text(encoding="utf-8"), "perform_rank")
        <= 2 * GO_PERFORM_RANK_LINES
    )


def test_the_counter_skips_what_is_not_code() -> None:
    source = (
        '"""Doc."""\n\n# a comment\nx = 1\n\n\ndef f():\n    """Doc\n    more."""\n    return x\n'
    )
    assert code_lines(source) == 3
    assert function_lines(source, "f") == 4


if __name__ == "__main__":
    text = RANKER.read_text(encoding="utf-8")
    print(  # noqa: T201 - run as a script, it reports
        f"ranker.py: {len(text.splitlines())} lines, {code_lines(text)} code lines "
        f"(Go: {GO_CODE_LINES}); perform_rank: {function_lines(text, 'perform_rank')} lines "
        f"(Go: {GO_PERFORM_RANK_LINES})"
    )
