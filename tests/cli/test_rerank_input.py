"""What ``rerank`` reads: the property each result must have, blank lines, the line numbers the
output reports, and numbers a 64-bit float cannot hold, each refused before anything is sent."""

from __future__ import annotations

import io
import json
import sys

import pytest

from reranker_nvidia.cli.main import main
from tests.cli._support import cli
from tests.support.httptest import TestServer

KEY = ("--header", "X-Nvidia-Api-Key: k")


def test_a_property_no_result_has_stops_before_sending(nim: TestServer) -> None:
    stdin = b'{"title": "Dune", "description": "spice"}\n{"title": "Emma"}\n'
    status, out, err = cli(
        "rerank", "--query", "q", "--property", "descrption", "--base-url", nim.url, *KEY,
        stdin=stdin,
    )  # fmt: skip
    assert (status, out) == (1, "")
    assert err == (
        "error: no search result has the property 'descrption' "
        "(properties seen: description, title)\n"
    )
    assert nim.requests == []


def test_a_property_that_is_never_text_stops_before_sending(nim: TestServer) -> None:
    stdin = b'{"title": "Dune", "year": 1965}\n{"title": "Emma", "year": null}\n'
    status, out, err = cli(
        "rerank", "--query", "q", "--property", "year", "--base-url", nim.url, *KEY, stdin=stdin
    )
    assert (status, out) == (1, "")
    assert err == (
        "error: no search result has a string in property 'year' "
        '(Weaviate would send every document as "")\n'
    )
    assert nim.requests == []


def test_one_result_with_the_property_is_enough_to_send(nim: TestServer) -> None:
    stdin = b'{"title": "Dune", "description": "spice"}\n{"title": "Emma"}\n'
    status, out, _ = cli(
        "rerank", "--query", "spice", "--property", "description", "--base-url", nim.url, *KEY,
        "--output", "json", stdin=stdin,
    )  # fmt: skip
    assert status == 0
    assert [json.loads(line)["title"] for line in out.splitlines()] == ["Dune", "Emma"]
    assert [p["text"] for p in nim.requests[0].json()["passages"]] == ["spice", ""]


def test_the_properties_seen_are_cut_to_a_readable_list(nim: TestServer) -> None:
    stdin = json.dumps({f"p{i:02}": "x" for i in range(40)}).encode() + b"\n"
    status, _, err = cli(
        "rerank", "--query", "q", "--property", "title", "--base-url", nim.url, *KEY, stdin=stdin
    )
    assert status == 1
    assert err == (
        "error: no search result has the property 'title' (properties seen: "
        + ", ".join(f"p{i:02}" for i in range(12))
        + ", … (40 in all))\n"
    )


def test_blank_lines_in_text_are_not_documents_and_lines_keep_their_numbers(
    nim: TestServer,
) -> None:
    stdin = b"\nno match\n   \ncat and dog\r\n\r\nthe dog\n\n"
    status, out, err = cli(
        "rerank", "--query", "cat dog", "--base-url", nim.url, *KEY, "--output", "json",
        stdin=stdin,
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert [p["text"] for p in nim.requests[0].json()["passages"]] == [
        "no match",
        "cat and dog",
        "the dog",
    ]
    assert json.loads(out)["results"] == [
        {"index": 1, "line": 4, "score": 2.0, "document": "cat and dog"},
        {"index": 2, "line": 6, "score": 1.0, "document": "the dog"},
        {"index": 0, "line": 2, "score": 0.0, "document": "no match"},
    ]
    status, out, _ = cli("rerank", "--query", "cat dog", "--base-url", nim.url, *KEY, stdin=stdin)
    assert status == 0
    assert [row.split()[:2] for row in out.splitlines()[2:]] == [["1", "4"], ["2", "6"], ["3", "2"]]


def test_only_blank_lines_send_nothing(nim: TestServer) -> None:
    status, out, err = cli("rerank", "--query", "q", "--base-url", nim.url, *KEY, stdin=b"\n \n")
    assert (status, out) == (0, "")
    assert err == "nothing to rerank: the input holds no documents\n"
    assert nim.requests == []


def test_json_lines_report_their_own_line_numbers_in_the_table(nim: TestServer) -> None:
    stdin = b'\n{"t": "no"}\n\n{"t": "a dog"}\n'
    status, out, _ = cli(
        "rerank", "--query", "dog", "--property", "t", "--base-url", nim.url, *KEY, stdin=stdin
    )
    assert status == 0
    assert [row.split()[:2] for row in out.splitlines()[2:]] == [["1", "4"], ["2", "2"]]


def test_help_says_blank_lines_are_not_documents(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["rerank", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Blank lines (empty or only white space) are not documents" in text
    assert "numbered from 1" in text


@pytest.mark.parametrize("number", ["1e400", "-1e400", "[1, 2e999]"])
def test_non_finite_numbers_are_refused_at_input(nim: TestServer, number: str) -> None:
    stdin = f'{{"p": "x"}}\n{{"p": "y", "n": {number}}}\n'.encode()
    status, out, err = cli(
        "rerank", "--query", "q", "--property", "p", "--base-url", nim.url, *KEY, stdin=stdin
    )
    assert (status, out) == (1, "")
    assert err.startswith("error: input line 2: the number ")
    assert err.endswith(" is out of range for a 64-bit float\n")
    assert nim.requests == []


class _Terminal(io.TextIOWrapper):
    """Standard input that says it is a terminal, holding what the user typed."""

    def isatty(self) -> bool:
        return True


def test_reading_standard_input_on_a_terminal_says_so_on_stderr(
    nim: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, with no --input on a terminal, the command waited without a word."""
    monkeypatch.setattr(sys, "stdin", _Terminal(io.BytesIO(b"cat\n")))
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["rerank", "--query", "cat", "--base-url", nim.url, "--header", "X-Nvidia-Api-Key: k"],
        stdout=out,
        stderr=err,
    )
    assert status == 0
    assert err.getvalue() == (
        "reading documents from standard input (end with Ctrl-D; --input FILE reads a file)\n"
    )
    assert "cat" in out.getvalue()


def test_standard_input_that_is_no_terminal_is_read_without_a_word(nim: TestServer) -> None:
    status, _, err = cli(
        "rerank", "--query", "cat", "--base-url", nim.url, "--header", "X-Nvidia-Api-Key: k",
        stdin=b"cat\n",
    )  # fmt: skip
    assert (status, err) == (0, "")
