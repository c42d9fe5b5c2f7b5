"""``reranker-nvidia demo`` (the README's main job) and the command line's entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reranker_nvidia.cli.main import build_parser, main, one_line


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_the_demo_reranks_the_sample_offline(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main("demo")
    captured = capsys.readouterr()
    assert (status, err) == (0, "")
    assert "scores are a stand-in, not NVIDIA's model" in captured.out
    before, after = captured.out.split("After rerank\n")
    assert before.count("\n") > 20
    rows = [line.split() for line in after.splitlines()[2:]]
    assert len(rows) == 20
    # Dune (13th in search order) is the best answer to the default query.
    assert rows[0][:2] == ["1", "13"]
    assert rows[0][3] == "Dune"
    scores = [float(row[2]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_the_demo_ranks_as_a_person_would(capsys: pytest.CaptureFixture[str]) -> None:
    """On the default query about Dune, its sequel comes next, ahead of the spice decoys."""
    assert run_main("demo")[0] == 0
    after = capsys.readouterr().out.split("After rerank\n")[1].splitlines()[2:]
    titles = [" ".join(row.split()[3:]) for row in after]
    assert titles[:2] == ["Dune", "Dune Messiah"]
    assert {"Sand and Spice Cookery", "Arrakis Notes"} == set(titles[2:4])
    assert run_main("demo", "--query", "What happens to Paul Atreides after Dune?")[0] == 0
    after = capsys.readouterr().out.split("After rerank\n")[1].splitlines()[2:]
    assert [" ".join(row.split()[3:]) for row in after[:2]] == ["Dune Messiah", "Dune"]


def test_the_demo_takes_the_users_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "films.jsonl"
    films = [
        {"name": "Alien", "plot": "a crew meets a creature in space"},
        {"name": "Heat", "plot": "a heist in a city"},
    ]
    source.write_text("\n".join(json.dumps(f) for f in films))
    status, _, _ = run_main(
        "demo", "--input", str(source), "--property", "plot", "--query", "heist city"
    )
    out = capsys.readouterr().out
    assert status == 0
    after = out.split("After rerank\n")[1].splitlines()[2:]
    assert after[0].split()[-3:] == ["a", "heist", "in"] or "heist" in after[0]
    assert after[0].split()[1] == "2"


def test_the_demo_with_no_results_is_an_error(tmp_path: Path) -> None:
    source = tmp_path / "empty.jsonl"
    source.write_text("")
    status, out, err = run_main("demo", "--input", str(source))
    assert (status, out) == (1, "")
    assert err == "error: nothing to rerank: the input holds no search results\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("reranker-nvidia 0.1.0")


def test_every_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("rerank", "emulator", "demo", "contracts"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert len(text.splitlines()) > 5, command


def test_a_command_whose_extra_is_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    real = importlib.import_module

    def no_emulator(name: str, package: str | None = None) -> object:
        if name == "nim_emulator.cli":
            raise ImportError("No module named 'starlette'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_emulator)
    parser = build_parser("emulator")
    args, _ = parser.parse_known_args(["emulator", "--port", "1"])
    assert args.missing == (
        "needs the 'emulator' extra: pip install 'reranker-nvidia[emulator]' "
        "(from a checkout: pip install -e '.[emulator]')"
    )
    monkeypatch.setattr("reranker_nvidia.cli.main.build_parser", lambda selected: parser)
    status, out, err = run_main("emulator", "--port", "1")
    assert (status, out) == (1, "")
    assert err == f"error: emulator {args.missing}\n"


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
    status, out, err = run_main("emulator", "--port", "1")
    assert (status, out) == (1, "")
    assert err == (
        "error: emulator needs the 'emulator' extra: pip install 'reranker-nvidia[emulator]' "
        "(from a checkout: pip install -e '.[emulator]')\n"
    )


def test_a_bug_is_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args: object, **kwargs: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("reranker_nvidia.cli.rerank.run", boom)
    status, out, err = run_main("rerank", "--query", "q")
    assert (status, out) == (1, "")
    assert err == (
        "error: internal error (ZeroDivisionError): division by zero; "
        "set RERANKER_NVIDIA_DEBUG=1 for a traceback\n"
    )
    monkeypatch.setenv("RERANKER_NVIDIA_DEBUG", "1")
    status, _, err = run_main("rerank", "--query", "q")
    assert status == 1
    assert "Traceback" in err


def test_an_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("reranker_nvidia.cli.rerank.run", interrupted)
    assert run_main("rerank", "--query", "q") == (130, "", "error: interrupted\n")


def test_one_line_escapes_line_breaks() -> None:
    assert one_line("a\nb\r\nc") == "a\\nb\\r\\nc"


def test_the_readme_demo_command_runs_as_a_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reranker_nvidia", "demo", "--query", "whale"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    after = done.stdout.decode().split("After rerank\n")[1].splitlines()
    assert after[2].split()[-1] == "Moby-Dick"


def test_every_interrupt_of_an_in_process_run_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("reranker_nvidia.cli.rerank.run", interrupted)
    for _ in range(2):
        assert run_main("rerank", "--query", "q") == (130, "", "error: interrupted\n")
