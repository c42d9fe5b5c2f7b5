"""The extension flags of ``rerank``: each is a class setting, off by default, checked early."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from reranker_nvidia.cli import rerank
from reranker_nvidia.cli.main import build_parser, main
from reranker_nvidia.errors import ModelDeprecationWarning, UpstreamError
from tests.support.httptest import Request, StartServer, TestServer, Writer

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def cli(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    original = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        status = main(list(argv), stdout=out, stderr=err)
    finally:
        sys.stdin = original
    return status, out.getvalue(), err.getvalue()


def by_length(request: Request, w: Writer) -> None:
    """Logit = the passage's text length; an image-only passage scores 100."""
    body = request.json()
    passages = body.get("passages") or []
    scores = [(i, float(len(p["text"])) if "text" in p else 100.0) for i, p in enumerate(passages)]
    scores.sort(key=lambda pair: -pair[1])
    w.respond(200, {"rankings": [{"index": i, "logit": s} for i, s in scores]})


@pytest.fixture
def nim(http_server: StartServer) -> TestServer:
    return http_server(by_length)


@pytest.fixture(autouse=True)
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "env-key")


def settings_of(*argv: str) -> dict[str, Any]:
    args = build_parser("rerank").parse_args(["rerank", "--query", "q", *argv])
    cfg = rerank._class_config(args)
    return dict(cfg.class_by_module_name("reranker-nvidia"))


def test_without_flags_the_class_settings_are_gos() -> None:
    assert settings_of() == {}
    assert settings_of("--model", "m") == {"model": "m"}


def test_each_flag_is_its_class_setting() -> None:
    assert settings_of(
        "--endpoint",
        "ranking",
        "--truncate",
        "END",
        "--retries",
        "3",
        "--rpm",
        "40",
        "--wait-ready",
        "2.5",
    ) == {
        "endpoint": "ranking",
        "truncate": "END",
        "retries": 3,
        "requestsPerMinute": 40.0,
        "waitReady": 2.5,
    }


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("--truncate", "START"), "error: wrong truncate type, available types are: [NONE END]\n"),
        (
            ("--endpoint", "gateway"),
            'error: endpoint must be one of [retrieval model ranking rerank auto], not "gateway"\n',
        ),
    ],
)
def test_a_bad_setting_is_one_line_and_nothing_is_sent(
    nim: TestServer, argv: tuple[str, ...], line: str
) -> None:
    status, out, err = cli("rerank", "--query", "q", "--base-url", nim.url, *argv, stdin=b"a\n")
    assert (status, out, err) == (1, "", line)
    assert nim.requests == []


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--retries", "-1"), "argument --retries: must be 0 or more, got -1"),
        (("--retries", "two"), "argument --retries: expected a whole number, got 'two'"),
        (("--rpm", "0"), "argument --rpm: must be a number greater than 0, got 0"),
        (("--rpm", "ten"), "argument --rpm: expected a number, got 'ten'"),
        (("--wait-ready", "-5"), "argument --wait-ready: must be a number greater than 0"),
        (("--top", "0"), "argument --top: must be at least 1, got 0"),
    ],
)
def test_a_malformed_number_is_a_usage_error(
    argv: tuple[str, ...], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["rerank", "--query", "q", *argv])
    assert caught.value.code == 2
    assert fragment in capsys.readouterr().err


def test_help_explains_every_flag_in_one_line_and_says_off_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["rerank", "--help"])
    text = capsys.readouterr().out
    for flag in ("--endpoint", "--truncate", "--retries", "--rpm", "--wait-ready"):
        assert flag in text, flag
    options = text.split("extensions:", 1)[1]
    assert options.count("off by default") + options.count("default, Go's") >= 5
    assert "--image-property" in text
    assert "--top" in text


def test_top_keeps_the_best_n(nim: TestServer) -> None:
    docs = b"aa\na\naaaa\naaa\n"
    status, out, _ = cli(
        "rerank",
        "--query",
        "q",
        "--base-url",
        nim.url,
        "--output",
        "json",
        "--top",
        "2",
        stdin=docs,
    )
    assert status == 0
    assert [r["document"] for r in json.loads(out)["results"]] == ["aaaa", "aaa"]
    status, out, _ = cli("rerank", "--query", "q", "--base-url", nim.url, "--top", "1", stdin=docs)
    assert status == 0
    assert out.splitlines()[2:] == ["1     3  4.0000  aaaa"]


def test_top_on_search_results(nim: TestServer) -> None:
    lines = [{"t": "x"}, {"t": "xxx"}, {"t": "xx"}]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    status, out, _ = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--property", "t", "--output", "json",
        "--top", "2", stdin=data,
    )  # fmt: skip
    assert status == 0
    assert [json.loads(line)["t"] for line in out.splitlines()] == ["xxx", "xx"]


def test_without_top_every_document_is_printed(nim: TestServer) -> None:
    status, out, _ = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--output", "json", stdin=b"a\nbb\nccc\n"
    )
    assert status == 0
    assert len(json.loads(out)["results"]) == 3


def test_the_hint_of_an_upstream_error_is_a_second_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: argparse.Namespace, **streams: Any) -> int:
        raise UpstreamError(
            "connection to NVIDIA API failed with status: 404",
            status=404,
            hint="this base URL serves a self-hosted NIM: set endpoint ranking",
        )

    monkeypatch.setattr(rerank, "run", failing)
    status, out, err = cli("rerank", "--query", "q")
    assert (status, out) == (1, "")
    assert err == (
        "error: connection to NVIDIA API failed with status: 404\n"
        "hint: this base URL serves a self-hosted NIM: set endpoint ranking\n"
    )


def test_a_hint_ending_the_message_is_said_once_on_its_own_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One rule: with a setting beyond Go's the message ends with the hint; the
    # command line prints it where it prints every hint, once.
    def failing(args: argparse.Namespace, **streams: Any) -> int:
        raise UpstreamError(
            "status: 404; set endpoint ranking", status=404, hint="set endpoint ranking"
        )

    monkeypatch.setattr(rerank, "run", failing)
    assert cli("rerank", "--query", "q")[2] == "error: status: 404\nhint: set endpoint ranking\n"


def test_a_hint_the_message_says_as_its_own_words_is_not_repeated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = "model m was retired on 2026-05-18 and is no longer available"

    def failing(args: argparse.Namespace, **streams: Any) -> int:
        raise UpstreamError(f"status: 410 error: {line}", status=410, hint=line)

    monkeypatch.setattr(rerank, "run", failing)
    assert cli("rerank", "--query", "q")[2] == f"error: status: 410 error: {line}\n"


def test_a_deprecation_warning_is_one_line_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def warning(args: argparse.Namespace, *, stdout: io.StringIO, stderr: io.StringIO) -> int:
        for _ in range(3):
            warnings.warn("model m is deprecated (Sunset: 2026-05-18)", ModelDeprecationWarning, 2)
        stdout.write("ranked\n")
        return 0

    monkeypatch.setattr(rerank, "run", warning)
    assert cli("rerank", "--query", "q") == (
        0,
        "ranked\n",
        "warning: model m is deprecated (Sunset: 2026-05-18)\n",
    )


def test_a_malformed_image_flag_input_says_which_property(nim: TestServer) -> None:
    data = json.dumps({"t": "x"}).encode()
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--image-property", "img", stdin=data
    )
    assert (status, out) == (1, "")
    assert err == "error: no search result has a string (a data: URL) in property 'img'\n"
    assert nim.requests == []


# These go through the client, so they need it to read the extension settings
# (interfaces: Client reads Extensions.merged(cfg) per call).


def test_truncate_is_sent_only_when_set(nim: TestServer) -> None:
    assert cli("rerank", "--query", "q", "--base-url", nim.url, stdin=b"a\n")[0] == 0
    assert (
        cli("rerank", "--query", "q", "--base-url", nim.url, "--truncate", "END", stdin=b"a\n")[0]
        == 0
    )
    assert "truncate" not in nim.requests[0].json()
    assert nim.requests[1].json()["truncate"] == "END"


def test_retries_turn_a_503_into_success(http_server: StartServer) -> None:
    def flaky(request: Request, w: Writer) -> None:
        if flaky.calls == 0:  # type: ignore[attr-defined]
            flaky.calls += 1  # type: ignore[attr-defined]
            w.respond(503, {"detail": "busy"}, headers={"Retry-After": "0"})
            return
        by_length(request, w)

    flaky.calls = 0  # type: ignore[attr-defined]
    server = http_server(flaky)
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", server.url, "--retries", "2", "--output", "json",
        stdin=b"a\nbb\n",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert [r["document"] for r in json.loads(out)["results"]] == ["bb", "a"]
    assert len(server.requests) == 2


def test_endpoint_ranking_reaches_a_self_hosted_nim(nim: TestServer) -> None:
    status, _, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--endpoint", "ranking", stdin=b"a\n"
    )
    assert (status, err) == (0, "")
    assert nim.requests[-1].path == "/v1/ranking"


def test_image_property_sends_image_passages(nim: TestServer, tmp_path: Path) -> None:
    lines = [{"t": "short"}, {"img": PNG}, {"t": "a longer text", "img": PNG}]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--property", "t",
        "--image-property", "img", "--output", "json", stdin=data,
    )  # fmt: skip
    assert (status, err) == (0, "")
    passages = nim.requests[0].json()["passages"]
    assert passages == [{"text": "short"}, {"image": PNG}, {"text": "a longer text", "image": PNG}]
    ranked = [json.loads(line) for line in out.splitlines()]
    assert [line.get("t") for line in ranked] == [None, "a longer text", "short"]
    assert ranked[0]["_additional"]["rerank"] == [{"score": 100.0}]


def test_a_deprecation_header_from_the_emulator_is_one_warning_line() -> None:
    emulator = pytest.importorskip("nim_emulator")
    config = emulator.EmulatorConfig(
        api_key="env-key", faults=[emulator.FaultSpec.parse("deprecation=2026-05-18")]
    )
    with emulator.running_emulator(config) as base_url:
        status, out, err = cli(
            "rerank", "--query", "q", "--base-url", base_url, "--max-documents", "1",
            stdin=b"a\nb\nc\n",
        )  # fmt: skip
    assert status == 0
    assert len(out.splitlines()) == 5  # header, rule, three documents
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: model nvidia/rerank-qa-mistral-4b")
    assert "2026-05-18" in lines[0]


def test_a_bad_image_is_one_line_naming_the_passage(nim: TestServer) -> None:
    data = b'{"img": "data:image/gif;base64,R0lGODlh"}\n'
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--image-property", "img", stdin=data
    )
    assert (status, out) == (1, "")
    assert err.startswith("error: passage 0: ")
    assert err.count("\n") == 1
    assert nim.requests == []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_during_a_retry_pause_exits_at_once(
    http_server: StartServer, tmp_path: Path
) -> None:
    answered = threading.Semaphore(0)

    def busy(request: Request, w: Writer) -> None:
        w.respond(503, {"detail": "busy"}, headers={"Retry-After": "30"})
        answered.release()

    server = http_server(busy)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "NVIDIA_APIKEY": "k", "PYTHONPATH": str(root)}
    documents = tmp_path / "docs.txt"
    documents.write_text("a document\n")
    child = subprocess.Popen(
        [
            sys.executable, "-m", "reranker_nvidia", "rerank", "--query", "q",
            "--base-url", server.url, "--retries", "3", "--timeout", "0",
            "--input", str(documents),
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert answered.acquire(timeout=30), "the command line sent nothing"
        time.sleep(0.2)  # now in the 30 s pause Retry-After asked for
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130
    assert (out, err) == (b"", b"error: interrupted\n")
    assert len(server.requests) == 1
    assert elapsed < 5
