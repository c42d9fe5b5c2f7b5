"""The ``emulator`` command's options (``configure``) and body (``run``), on a parser of our own."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
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

    def fake_serve(config: EmulatorConfig, host: str, port: int, *, quiet: bool) -> int:
        seen.append((config, host, port))
        assert quiet is False
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
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}")


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


def _serve_then_stop(port: int, requests: list[tuple[str, str]]) -> threading.Thread:
    """Once the server listens, send ``requests`` (method, path), then SIGTERM this process."""

    def client() -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    return  # the server never started: the test fails on its own
                time.sleep(0.005)
        base = f"http://127.0.0.1:{port}"
        try:
            for method, path in requests:
                httpx.request(method, base + path, json={"x": 1})
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    return sender


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_foreground_server_logs_one_line_per_request_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    sender = _serve_then_stop(
        port, [("GET", "/v1/health/ready"), ("POST", "/v1/ranking"), ("GET", "/nowhere/%1B[2J")]
    )
    code = cli.run(parser().parse_args(["--port", str(port), "--fault", "status=503,count=1"]))
    sender.join()
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == f"reranker-nvidia emulator listening on http://127.0.0.1:{port}\n"
    lines = captured.err.splitlines()
    assert len(lines) == 3, captured.err
    pattern = r'^127\.0\.0\.1:\d+ "{} {}" {} \d+\.\d ms$'
    assert re.match(pattern.format("GET", re.escape("/v1/health/ready"), 200), lines[0])
    assert re.match(pattern.format("POST", re.escape("/v1/ranking"), 503), lines[1])
    assert re.match(pattern.format("GET", re.escape("/nowhere/\\x1b[2J"), 404), lines[2])


def test_quiet_turns_the_request_log_off(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    sender = _serve_then_stop(port, [("GET", "/v1/health/ready")])
    code = cli.run(parser().parse_args(["--port", str(port), "--quiet"]))
    sender.join()
    assert code == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.20", True),
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_a_host_off_loopback_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str, warned: bool
) -> None:
    monkeypatch.setattr(cli, "serve", lambda *args, **kwargs: 0)  # nothing listens
    assert cli.run(parser().parse_args(["--host", host])) == 0
    err = capsys.readouterr().err
    if warned:
        assert err == (
            f"warning: --host {host} is not a loopback address: anything that can reach this "
            "machine can use the emulator\n"
        )
    else:
        assert err == ""


def test_the_newer_options_build_their_config() -> None:
    args = parser().parse_args(
        [
            "--routes=ranking,rerank",
            "--nim-version=2.4",
            "--deprecation=nvidia/a=@1767225600",
            "--sunset=nvidia/a=Thu, 01 Jan 2027 00:00:00 GMT",
            "--end-of-life=nvidia/b=2026-05-18",
            "--model-list-id=/opt/nim/model",
            "--scoring=hash",
            "--no-request-log",
            "--max-logged=10",
            "--fault=ratelimit=5/60,retry-after=2",
        ]
    )
    config = cli.config_from(args)
    assert config.routes == frozenset({"ranking", "rerank"})
    assert config.nim_version == "2.4"
    assert config.deprecation == {"nvidia/a": "@1767225600"}
    assert config.sunset == {"nvidia/a": "Thu, 01 Jan 2027 00:00:00 GMT"}
    assert config.end_of_life == {"nvidia/b": datetime(2026, 5, 18, tzinfo=UTC)}
    assert (config.model_list_id, config.scoring) == ("/opt/nim/model", "hash")
    assert (config.log_requests, config.max_logged) == (False, 10)
    assert config.faults == [FaultSpec("ratelimit", rate_limit=5, window_s=60.0, retry_after=2)]


def test_the_newer_options_default_to_todays_behaviour() -> None:
    config = cli.config_from(parser().parse_args([]))
    assert config == EmulatorConfig()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--routes=hosted", "route groups are some of"),
        ("--nim-version=latest", "a NIM version looks like"),
        ("--deprecation=nvidia/a", "expected MODEL=VALUE"),
        ("--end-of-life=nvidia/a=soon", "expected MODEL=ISO-DATE"),
        ("--scoring=bm42", "invalid choice"),
        ("--max-logged=-1", "must be >= 0"),
    ],
)
def test_bad_newer_option_values_are_usage_errors(
    option: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args([option])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_strictness_and_guard_options_build_their_config() -> None:
    args = parser().parse_args(
        [
            "--routes=hosted-2026,ranking",
            "--self-hosted-model=nvidia/Nemotron-3.5-Rerank-8B-BF16",
            "--max-seq-len=32768",
            "--log-body-limit=4096",
            "--header-timeout=2.5",
            "--max-connections=100",
        ]
    )
    config = cli.config_from(args)
    assert config.routes == frozenset({"retrieval", "model", "ranking"})
    assert config.not_for_account == frozenset({"nvidia/nv-rerankqa-mistral-4b-v3"})
    assert config.pipeline_max_seq_len == 32768
    assert (config.log_body_limit, config.header_timeout_s, config.max_connections) == (
        4096,
        2.5,
        100,
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--max-seq-len=0", "argument --max-seq-len: must be >= 1, not 0"),
        ("--log-body-limit=-5", "argument --log-body-limit: must be >= 0"),
        ("--header-timeout=0", "must be more than 0 and at most 3600 seconds"),
        ("--header-timeout=soon", "not a number of seconds: 'soon'"),
        ("--max-connections=0", "argument --max-connections: must be >= 1, not 0"),
        ("--routes=hosted-2025", "route groups are some of retrieval,model,ranking,rerank,"),
    ],
)
def test_bad_strictness_and_guard_values_are_usage_errors(
    option: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args([option])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_max_seq_len_over_the_models_maximum_is_a_one_line_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parser().parse_args(["--port=0", "--max-seq-len=8193"])
    assert cli.run(args) == 2
    assert capsys.readouterr().err == (
        "error: pipeline_max_seq_len must be a whole number 1-8192 for "
        "nvidia/llama-nemotron-rerank-1b-v2, not 8193\n"
    )
