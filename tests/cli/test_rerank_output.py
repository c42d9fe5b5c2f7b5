"""What ``rerank`` prints: ``--output json`` is strict JSON, and the table is safe to print."""

from __future__ import annotations

import json
import math

from reranker_nvidia.cli.output import table
from tests.cli._support import cli
from tests.support.httptest import TestServer

KEY = ("--header", "X-Nvidia-Api-Key: k")


def test_json_output_is_strict_json(nim: TestServer) -> None:
    stdin = b'{"p": "x", "small": 1e-400, "big": 1e300, "int": 123456789012345678901234567890}\n'
    status, out, _ = cli(
        "rerank", "--query", "x", "--property", "p", "--base-url", nim.url, *KEY,
        "--output", "json", stdin=stdin,
    )  # fmt: skip
    assert status == 0

    def strict(name: str) -> object:
        raise AssertionError(f"{name} in the output")

    got = json.loads(out, parse_constant=strict)
    assert got["big"] == 1e300 and got["small"] == 0.0
    assert got["int"] == 123456789012345678901234567890
    assert all(math.isfinite(v) for v in (got["big"], got["_additional"]["rerank"][0]["score"]))


def test_table_line_numbers_are_1_based_like_the_demos(nim: TestServer) -> None:
    status, out, _ = cli(
        "rerank", "--query", "dog", "--base-url", nim.url, *KEY, stdin=b"cat\ndog\n"
    )
    assert status == 0
    assert [row.split()[:2] for row in out.splitlines()[2:]] == [["1", "2"], ["2", "1"]]


def test_control_characters_are_escaped_in_the_table() -> None:
    text = table(
        ["#", "document"],
        [["1", "clear\x1b[2Jscreen\x07 tab\tnl\nend\x9b\u202edel\x7f"]],
        width=200,
    )
    assert text.splitlines()[2] == (
        "1  clear\\x1b[2Jscreen\\x07 tab\\tnl\\nend\\x9b\\u202edel\\x7f"
    )
    assert not any(ch in text for ch in "\x1b\x07\t\x9b\u202e\x7f")
    assert text.count("\n") == 2


def test_the_header_rule_is_as_wide_as_the_cells() -> None:
    long = "x" * 70
    lines = table(["#", "document"], [["1", long], ["10", "short"]], width=200).splitlines()
    assert lines[1] == "--  " + "-" * 70
    lines = table(["#", "document"], [["1", "y" * 300]], width=60).splitlines()
    assert lines[1] == "-  " + "-" * 57
    assert len(lines[2]) == 60
    lines = table(["#", "document"], [["1", "ab"]], width=60).splitlines()
    assert lines[1] == "-  --------"
