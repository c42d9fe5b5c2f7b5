"""The runner's command line: plain one-line errors, --json FILE, flags, a wheel's suite."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from reranker_contracts import cli
from reranker_nvidia.cli.main import main as port_main
from reranker_nvidia.contract_adapter.adapter import main as adapter_main

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "contracts"
ADAPTER = f"{sys.executable} -m reranker_nvidia contracts adapter"


def port(*argv: str) -> int:
    """``reranker-nvidia contracts …``; the suite's own commands print to sys.stdout/stderr."""
    return port_main(["contracts", *argv])


def test_a_cases_glob_that_matches_nothing_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["run", "--impl", ADAPTER, "--cases", "typo/*"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "error: --cases 'typo/*' matches no case (ids look like 'errors/500-empty-body'; "
        "globs use * and ?)"
    ]
    assert captured.out == ""


def test_an_adapter_that_cannot_start_is_one_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["run", "--impl", "/nonexistent/adapter"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "error: the implementation cannot start: cannot start /nonexistent/adapter: "
        "No such file or directory"
    ]
    assert "FAIL" not in captured.out
    assert cli.main(["run", "--persistent", "--impl", f"{sys.executable} -c pass"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "before answering the first case" in lines[0]


def test_json_file_gets_the_report_and_stdout_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    status = cli.main(
        ["run", "--impl", ADAPTER, "--cases", "settings/*", "--jobs", "2", "--json", str(report)]
    )
    assert status == 0
    data = json.loads(report.read_text())
    assert data["failed"] == 0
    assert data["cases"]
    assert all(c["id"].startswith("settings/") for c in data["cases"])
    assert capsys.readouterr().out == f"{ADAPTER}: {data['summary']}\n"


def test_json_to_stdout_keeps_stdout_parseable(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--impl", ADAPTER, "--cases", "settings/*", "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["failed"] == 0
    assert captured.err.endswith(" passed, 0 failed\n")


def test_the_persistent_flag_runs_the_port_persistently(
    capsys: pytest.CaptureFixture[str],
) -> None:
    impl = f"{ADAPTER} --persistent"
    assert cli.main(["run", "--persistent", "--impl", impl, "--cases", "headers-and-keys/*"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{impl}: ")
    assert out.endswith(" passed, 0 failed\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--persistent"], "error: --persistent needs --impl CMD (the adapter to keep running)"),
        (["--skip-tag", "no-such-tag"], "error: --skip-tag no-such-tag: unknown tag"),
        (["--impl", "  "], "error: --impl needs a command"),
    ],
)
def test_usage_mistakes_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", *argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(message)


def test_suite_mistakes_are_plain_errors_in_both_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert port("run", "--suite", str(tmp_path)) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path} is not the contract suite (it holds no case.schema.json)\n"
    )
    broken = tmp_path / "suite"
    (broken / "cases" / "valid").mkdir(parents=True)
    shutil.copy(SUITE / "case.schema.json", broken)
    (broken / "cases" / "valid" / "settings.json").write_text("{not json")
    for command in ("check", "run"):
        assert port(command, "--suite", str(broken)) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {broken / 'cases' / 'valid' / 'settings.json'}: ")
        assert len(err.splitlines()) == 1
        assert "internal error" not in err


def test_check_without_jsonschema_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import jsonschema now fails
    assert cli.main(["check"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "error: jsonschema is not installed: pip install 'reranker-nvidia[contracts]' "
        "(from a checkout: pip install -e '.[contracts]')\n"
    )
    assert captured.out == ""


def _installed_copy(tmp_path: Path) -> Path:
    """The suite laid out as a wheel carries it: no docs/, no pyproject.toml beside it."""
    home = tmp_path / "reranker_contracts" / "_suite"
    shutil.copytree(SUITE, home / "contracts")
    shutil.copytree(ROOT / "cassettes", home / "cassettes")
    return home


def test_check_passes_in_an_installed_suite_and_stays_strict_in_a_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _installed_copy(tmp_path)
    assert cli.main(["check", "--suite", str(home / "contracts")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "note: divergence ids not cross-checked: docs/divergences.md is not installed with the suite"
    )
    assert out[-1].endswith("all sound")
    # A checkout (pyproject.toml beside the suite) must have docs/divergences.md.
    (home / "pyproject.toml").write_text("")
    assert cli.main(["check", "--suite", str(home / "contracts")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "divergences.md" in err


def test_the_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in (
        "--cases",
        "--skip GLOB",
        "--skip-tag",
        "--jobs",
        "--json",
        "--persistent",
        "--go-expect",
    ):
        assert flag in text
    assert "the CPU count" in text
    assert "one case per line" in text
    with pytest.raises(SystemExit):
        port("adapter", "--help")
    assert "--persistent" in capsys.readouterr().out


def test_the_persistent_adapter_answers_one_line_per_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "left-over")
    monkeypatch.setenv("NVIDIA_APIKEY", "left-over")
    lines = [
        {"kind": "settings", "input": {"class": None}, "env": {"MODULES_CLIENT_TIMEOUT": "5s"}},
        "not json",
        {"kind": "bogus", "input": {}, "env": {}},
        {"kind": "rerank", "input": {"results": [{"a": 1}], "params": None}, "env": {}},
    ]
    stdin = io.BytesIO(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()
    )
    out = io.StringIO()
    assert adapter_main(stdin, out, persistent=True) == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(answers) == 4
    assert answers[0] == {
        "settings": {"model": "nvidia/rerank-qa-mistral-4b", "baseURL": "https://ai.api.nvidia.com"}
    }
    assert answers[1]["error"].startswith("adapter: cannot run the case")
    assert answers[2]["error"] == "adapter: cannot run the case: unknown case kind 'bogus'"
    assert answers[3] == {"error": "no params provided"}
    # Exactly the last case's module variables are set: none.
    for name in ("NVIDIA_APIKEY", "MODULES_CLIENT_TIMEOUT", "MODULES_VALIDATE_BASE_URL"):
        assert name not in os.environ


def test_skip_tag_and_go_skip_are_counted_and_reported(capsys: pytest.CaptureFixture[str]) -> None:
    from reranker_contracts.suite import load_cases

    cases = load_cases(SUITE)
    tagged = [c for c in cases if "go-stdlib-text" in c.tags]
    go_skipped = [c for c in cases if c.go_skip and "go-stdlib-text" not in c.tags]
    assert port("run", "--skip-tag", "go-stdlib-text", "--allow-go") == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out if line.startswith("SKIP ")] == [
        f"SKIP {c.id}" for c in go_skipped
    ]
    skipped = len(tagged) + len(go_skipped)
    assert out[-1].endswith(f" passed, 0 failed, {skipped} skipped" if skipped else " 0 failed")
    # Without --allow-go, go_skip cases run like any other.
    assert port("run", "--cases", "graphql-arguments/*") == 0
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith("SKIP")]


def test_a_missing_emulator_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "nim_emulator", None)  # import nim_emulator now fails
    assert cli.main(["run", "--impl", ADAPTER, "--cases", "settings/*"]) == 1
    assert capsys.readouterr().err == (
        "error: nim_emulator is not installed: pip install 'reranker-nvidia[contracts]' "
        "(from a checkout: pip install -e '.[contracts]')\n"
    )


def test_record_without_a_key_is_a_plain_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NVIDIA_APIKEY", raising=False)
    assert port("record", "--out", str(tmp_path)) == 1
    assert capsys.readouterr().err.startswith("error: NVIDIA_APIKEY is not set: nothing recorded")
    assert (
        port("record", "--out", str(tmp_path), "--cassette", "nope", "--base-url", "http://x") == 1
    )
    assert capsys.readouterr().err == "error: no recordable cassette matches\n"
    assert list(tmp_path.iterdir()) == []
