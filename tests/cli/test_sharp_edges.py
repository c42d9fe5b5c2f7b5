"""What a new user of the command line hits: wrong properties, blank lines, strict JSON, help,
usage errors, one error prefix, and a table that is safe to print."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from reranker_nvidia.cli.main import main
from reranker_nvidia.cli.output import table
from tests.cli.test_rerank_cli import cli, overlap_scorer, write
from tests.support.httptest import Handler, TestServer

StartServer = Callable[[Handler], TestServer]
KEY = ("--header", "X-Nvidia-Api-Key: k")


@pytest.fixture
def nim(http_server: StartServer) -> TestServer:
    return http_server(overlap_scorer)


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a command line that must be a usage error; return its stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


# --property that no result has, blank lines in text input (issue item 9)


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


# --output json is strict JSON (issue item 13)


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


# --help, a bare command, unknown flags, error prefixes


def test_help_lists_the_commands_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("rerank", "emulator", "demo", "contracts"):
        assert sum(line.split()[:1] == [command] for line in out.splitlines()) == 1, command
    assert out.startswith("usage: reranker-nvidia [-h] [--version] COMMAND ...\n")


def test_a_bare_command_is_a_usage_error_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error([], capsys)
    assert err.startswith("usage: reranker-nvidia ")
    assert err.endswith(
        "reranker-nvidia: error: a command is required: "
        "rerank, models, bulk, emulator, demo or contracts\n"
    )


def test_an_unknown_rerank_flag_shows_reranks_usage(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["rerank", "--query", "q", "--qeury", "x"], capsys)
    assert err.startswith("usage: reranker-nvidia rerank [-h] --query TEXT")
    assert err.endswith("reranker-nvidia rerank: error: unrecognized arguments: --qeury x\n")


def test_an_unknown_flag_of_a_nested_command_shows_its_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(["contracts", "run", "--bogus"], capsys)
    assert err.startswith("usage: reranker-nvidia contracts run ")
    assert err.endswith("reranker-nvidia contracts run: error: unrecognized arguments: --bogus\n")


def test_an_unknown_top_level_flag_shows_the_top_level_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(["--bogus"], capsys)
    assert err.startswith("usage: reranker-nvidia [-h]")
    assert "reranker-nvidia: error:" in err


def test_runtime_errors_have_one_prefix_for_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    empty = write(tmp_path, "empty.jsonl", "")
    status, _, err = cli("rerank", "--query", "q", "--base-url", "http://127.0.0.1:9", stdin=b"d\n")
    assert (status, err.startswith("error: Nvidia API Key")) == (1, True)
    status, _, err = cli("demo", "--input", empty)
    assert (status, err) == (1, "error: nothing to rerank: the input holds no search results\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status, _, _ = cli("emulator", "--port", str(port))
    err = capsys.readouterr().err
    assert (status, err.startswith(f"error: cannot listen on 127.0.0.1:{port}")) == (1, True)
    assert main(["contracts", "run", "--cases", "typo/*"]) == 2
    assert capsys.readouterr().err.startswith("error: --cases 'typo/*' matches no case")


# arguments


@pytest.mark.parametrize("query", ["", "   "])
@pytest.mark.parametrize("command", ["rerank", "demo"])
def test_an_empty_query_is_a_usage_error(
    command: str, query: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error([command, "--query", query], capsys)
    assert err.endswith(f"reranker-nvidia {command}: error: argument --query: must not be empty\n")


def test_max_documents_above_nims_limit_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["rerank", "--query", "q", "--max-documents", "513"], capsys)
    assert "argument --max-documents: must be at most 512 (NIM refuses more passages" in err
    args_ok = ["rerank", "--query", "q", "--max-documents", "512", "--input", "/nonexistent"]
    assert main(args_ok) == 1


def test_a_missing_extra_says_how_to_install_from_a_checkout_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    real = importlib.import_module

    def no_emulator(name: str, package: str | None = None) -> object:
        if name == "nim_emulator.cli":
            raise ImportError("No module named 'starlette'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_emulator)
    status, out, err = cli("emulator", "--port", "1")
    assert (status, out) == (1, "")
    assert err == (
        "error: emulator needs the 'emulator' extra: pip install 'reranker-nvidia[emulator]' "
        "(from a checkout: pip install -e '.[emulator]')\n"
    )


# the table


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
