"""Help, usage errors and runtime errors of every command: a usage error exits 2 with the usage of
the command at fault on stderr; a runtime error is one line with one prefix, ``error:``."""

from __future__ import annotations

from pathlib import Path

import pytest

from reranker_nvidia.cli.main import main
from tests.cli._support import cli, write


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a command line that must be a usage error; return its stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("rerank",), "the following arguments are required: --query"),
        (("rerank", "--query", "q", "--header", "no colon"), "expected 'Name: value'"),
        (("rerank", "--query", "q", "--max-documents", "0"), "must be at least 1"),
        (("rerank", "--query", "q", "--max-concurrency", "x"), "expected a whole number"),
        (("rerank", "--query", "q", "--timeout", "-1"), "must be 0 (no timeout) or more seconds"),
        (("rerank", "--query", "q", "--output", "xml"), "invalid choice"),
    ],
)
def test_usage_errors_exit_2(
    argv: tuple[str, ...], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert fragment in captured.err


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
