"""The ``emulator`` command's options (``configure``) and body (``run``), on a parser of our own."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from nim_emulator import EmulatorConfig, FaultSpec, cli


def parser() -> argparse.ArgumentParser:
    built = argparse.ArgumentParser(prog="reranker-nvidia emulator")
    cli.configure(built)
    return built


def test_defaults() -> None:
    args = parser().parse_args([])
    assert (args.host, args.port, args.api_key) == ("127.0.0.1", 8000, None)
    assert (args.latency_ms, args.jitter_ms, args.fault) == (0.0, 0.0, [])
    assert args.self_hosted_model == "nvidia/llama-nemotron-rerank-1b-v2"
    assert (args.usage, args.replay) == (False, None)


def test_every_option_is_parsed(tmp_path: Path) -> None:
    cassette = tmp_path / "c.yaml"
    cassette.write_text("version: 1\ninteractions: []\n", encoding="utf-8")
    args = parser().parse_args(
        [
            "--host=127.0.0.2",
            "--port=0",
            "--api-key=k",
            "--latency-ms=5",
            "--jitter-ms=1.5",
            "--fault=status=503,count=2,retry-after=10",
            "--fault",
            "drop",
            "--self-hosted-model=acme/x",
            "--usage",
            f"--replay={cassette}",
        ]
    )
    assert (args.host, args.port, args.api_key) == ("127.0.0.2", 0, "k")
    assert (args.latency_ms, args.jitter_ms) == (5.0, 1.5)
    assert args.fault == [
        FaultSpec("status", count=2, status=503, retry_after=10),
        FaultSpec("drop"),
    ]
    assert (args.self_hosted_model, args.usage) == ("acme/x", True)
    assert args.replay.interactions == ()


def test_help_explains_every_option_and_lists_the_fault_grammar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    for option in (
        "--host",
        "--port",
        "--api-key",
        "--latency-ms",
        "--jitter-ms",
        "--fault",
        "--self-hosted-model",
        "--usage",
        "--replay",
    ):
        assert option in out
    for fault in (
        "status=CODE",
        "latency=MS",
        "drop-mid-body",
        "malformed-json",
        "indices=MODE",
        "unsorted[=MODE]",
        "slow-body=MS",
        "accepted[=POLLS]",
        "deprecation=VALUE",
        "count=N",
        "path=GLOB",
        "retry-after",
    ):
        assert fault in out
    assert "NOT NVIDIA's model" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fault", "explode"], "argument --fault: unknown key 'explode'"),
        (["--fault", "status=200"], "status must be a code from 400 to 599"),
        (["--latency-ms", "-1"], "argument --latency-ms: must be 0-3600000 milliseconds"),
        (["--jitter-ms", "soon"], "not a number of milliseconds: 'soon'"),
        (["--port", "99999"], "argument --port: must be 0-65535"),
        (["--port", "http"], "not a port number: 'http'"),
        (["--replay", "/nonexistent/cassette.yaml"], "cannot read cassette"),
        (["--self-hosted-model", ""], "a model id has 1-128 characters"),
    ],
)
def test_bad_values_are_usage_errors_without_traceback(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert message in err
    assert err.startswith("usage: reranker-nvidia emulator")
    assert "Traceback" not in err


def test_run_builds_the_config_and_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[EmulatorConfig, str, int]] = []

    def fake_serve(config: EmulatorConfig, host: str, port: int) -> int:
        seen.append((config, host, port))
        return 0

    monkeypatch.setattr(cli, "serve", fake_serve)
    args = parser().parse_args(
        ["--port", "0", "--api-key", "k", "--latency-ms", "3", "--usage", "--fault", "unsorted"]
    )
    assert cli.run(args) == 0
    config, host, port = seen[0]
    assert (host, port) == ("127.0.0.1", 0)
    assert config.api_key == "k"
    assert config.latency_ms == 3.0
    assert config.include_usage is True
    assert config.faults == [FaultSpec("unsorted")]


def test_run_reports_a_busy_port_and_returns_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.run(parser().parse_args(["--port", str(port)]))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"reranker-nvidia emulator: error: cannot listen on 127.0.0.1:{port}")


def test_run_serves_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def stop_when_listening() -> None:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    sender = threading.Thread(target=stop_when_listening)
    sender.start()
    code = cli.run(parser().parse_args(["--port", str(port)]))
    sender.join()
    assert code == 0
    assert capsys.readouterr().out == (
        f"reranker-nvidia emulator listening on http://127.0.0.1:{port}\n"
    )
    assert signal.getsignal(signal.SIGTERM) == previous
