"""``reranker-nvidia rerank`` end to end: the interface, input handling, output shapes and exit
codes. Input edge cases are in test_rerank_input.py, output edge cases in test_rerank_output.py,
usage errors in test_usage_errors.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli._support import cli, overlap_scorer, write
from tests.support.httptest import Request, StartServer, TestServer, Writer


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "env-key")


@pytest.mark.usefixtures("keyed")
def test_text_input_json_output(nim: TestServer, tmp_path: Path) -> None:
    docs = write(tmp_path, "docs.txt", "the cat sat\nno match here\ncat and dog\r\nthe dog\n")
    status, out, err = cli(
        "rerank", "--query", "cat dog", "--input", docs, "--base-url", nim.url, "--output", "json"
    )
    assert (status, err) == (0, "")
    assert json.loads(out) == {
        "query": "cat dog",
        "results": [
            {"index": 2, "line": 3, "score": 2.0, "document": "cat and dog"},
            {"index": 0, "line": 1, "score": 1.0, "document": "the cat sat"},
            {"index": 3, "line": 4, "score": 1.0, "document": "the dog"},
            {"index": 1, "line": 2, "score": 0.0, "document": "no match here"},
        ],
    }
    assert out.count("\n") == 1
    assert nim.requests[0].headers["Authorization"] == "Bearer env-key"


@pytest.mark.usefixtures("keyed")
def test_stdin_is_the_default_input(nim: TestServer) -> None:
    status, out, _ = cli(
        "rerank", "--query", "dog", "--base-url", nim.url, "--output", "json", stdin=b"a dog\nno\n"
    )
    assert status == 0
    assert [r["index"] for r in json.loads(out)["results"]] == [0, 1]


@pytest.mark.usefixtures("keyed")
def test_json_lines_input_is_reranked_as_weaviate_does(nim: TestServer, tmp_path: Path) -> None:
    lines = [
        {"title": "A", "description": "nothing here", "year": 1965},
        {"title": "B", "description": 42, "_additional": {"id": "b-id", "distance": 0.25}},
        {"title": "C", "description": "a cat and a dog"},
        {"title": "D"},
        {"title": "E", "description": "dog days", "_additional": {"rerank": [{"score": 99}]}},
    ]
    source = write(tmp_path, "results.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    status, out, err = cli(
        "rerank", "--query", "cat dog", "--property", "description", "--input", source,
        "--base-url", nim.url, "--output", "json",
    )  # fmt: skip
    assert (status, err) == (0, "")
    got = [json.loads(line) for line in out.splitlines()]
    assert [g["title"] for g in got] == ["C", "E", "A", "B", "D"]
    assert got[0] == {
        "title": "C",
        "description": "a cat and a dog",
        "_additional": {"rerank": [{"score": 2.0}]},
    }
    # Merged into the _additional already there; an old rerank is replaced; the rest untouched.
    assert got[1]["_additional"] == {"rerank": [{"score": 1.0}]}
    assert got[3] == {
        "title": "B",
        "description": 42,
        "_additional": {"id": "b-id", "distance": 0.25, "rerank": [{"score": 0.0}]},
    }
    # A non-string or missing property is sent as "" (Weaviate's rule).
    assert [p["text"] for p in nim.requests[0].json()["passages"]] == [
        "nothing here", "", "a cat and a dog", "", "dog days",
    ]  # fmt: skip


@pytest.mark.usefixtures("keyed")
def test_headers_behave_as_weaviate_request_headers(
    nim: TestServer, http_server: StartServer
) -> None:
    status, out, _ = cli(
        "rerank", "--query", "q", "--base-url", "http://127.0.0.1:9", "--output", "json",
        "--header", "x-nvidia-api-key: header-key", "--header", f"X-NVIDIA-BASEURL:{nim.url}",
        stdin=b"doc\n",
    )  # fmt: skip
    assert status == 0, out
    assert nim.requests[0].headers["Authorization"] == "Bearer header-key"


@pytest.mark.usefixtures("keyed")
def test_table_output_is_for_people(nim: TestServer) -> None:
    status, out, _ = cli("rerank", "--query", "dog", "--base-url", nim.url, stdin=b"cat\nhot dog\n")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["#", "line", "score", "document"]
    assert lines[2].split() == ["1", "2", "1.0000", "hot", "dog"]
    assert lines[3].split() == ["2", "1", "0.0000", "cat"]


def test_empty_input_sends_nothing(http_server: StartServer) -> None:
    server = http_server(overlap_scorer)
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", server.url, "--output", "json", stdin=b""
    )
    assert (status, json.loads(out), err) == (0, {"query": "q", "results": []}, "")
    status, out, err = cli("rerank", "--query", "q", "--base-url", server.url, stdin=b"")
    assert (status, out) == (0, "")
    assert err == "nothing to rerank: the input holds no documents\n"
    status, out, err = cli(
        "rerank",
        "--query",
        "q",
        "--property",
        "p",
        "--base-url",
        server.url,
        "--output",
        "json",
        stdin=b"\n",
    )
    assert (status, out) == (0, "")
    assert server.requests == []


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        ((), b"doc\n", "error: Nvidia API Key: no api key found neither in request header: "
         "X-Nvidia-Api-Key nor in environment variable under NVIDIA_APIKEY\n"),
        (("--input", "/nonexistent/docs.txt"), None,
         "error: cannot read input /nonexistent/docs.txt: No such file or directory\n"),
        (("--header", "X-Nvidia-Api-Key: k"), b"ok\n\xff\xfe\n",
         "error: input is not valid UTF-8: byte 0xff at line 2, column 1 (invalid start byte)\n"),
        (("--header", "X-Nvidia-Api-Key: k", "--property", "p"), b'{"p": "x"}\n{"p": \n',
         "error: input line 2 is not valid JSON: Expecting value (column 7)\n"),
        (("--header", "X-Nvidia-Api-Key: k", "--property", "p"), b'{"p": "x"}\n[1]\n',
         "error: input line 2 is an array, not a JSON object\n"),
        (("--header", "X-Nvidia-Api-Key: k", "--property", "p"), b'{"p": NaN}\n',
         "error: input line 1 is not valid JSON: NaN is not valid JSON\n"),
        (("--header", "X-Nvidia-Api-Key: k", "--property", "p"), b'{"p": "x", "_additional": 3}\n',
         "error: input line 1: _additional must be an object, not a number\n"),
    ],
)  # fmt: skip
def test_runtime_errors_are_one_line_and_leave_stdout_empty(
    nim: TestServer, argv: tuple[str, ...], stdin: bytes | None, message: str
) -> None:
    status, out, err = cli("rerank", "--query", "q", "--base-url", nim.url, *argv, stdin=stdin)
    assert (status, out, err) == (1, "", message)


def test_a_multi_line_server_message_stays_on_one_line(http_server: StartServer) -> None:
    detail = "body -> passages -> 0 -> text\n  ensure this value has at least 1 characters"
    server = http_server(lambda r, w: w.respond(422, {"status": 422, "detail": detail}))
    status, out, err = cli(
        "rerank",
        "--query",
        "q",
        "--base-url",
        server.url,
        "--header",
        "X-Nvidia-Api-Key: k",
        stdin=b"doc\n",
    )
    assert (status, out) == (1, "")
    assert err == (
        "error: connection to NVIDIA API failed with status: 422 error: "
        "body -> passages -> 0 -> text\\n  ensure this value has at least 1 characters "
        "(document 0, input line 1)\n"
    )


def nvidia_refusing_a_blank_text(request: Request, w: Writer) -> None:
    """NVIDIA's 422 for a passage of white space, naming it by its index in the request."""
    passages = request.json()["passages"]
    bad = [i for i, p in enumerate(passages) if p["text"].strip(" .") == ""]
    if not bad:
        w.respond(200, {"rankings": [{"index": i, "logit": 0.0} for i in range(len(passages))]})
        return
    detail = f"body -> passages -> {bad[0]} -> text\n  ensure this value has at least 1 characters"
    w.respond(422, {"status": 422, "detail": detail})


def test_a_passage_nvidia_refuses_is_named_by_document_and_input_line(
    http_server: StartServer,
) -> None:
    """NIM names passage 88 of the second chunk; the user has line 603 to fix."""
    server = http_server(nvidia_refusing_a_blank_text)
    lines = ["doc"] * 600 + ["."] + ["doc"] * 5
    stdin = ("\n\n" + "\n".join(lines[:300]) + "\n\n" + "\n".join(lines[300:]) + "\n").encode()
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", server.url, "--header", "X-Nvidia-Api-Key: k",
        "--max-concurrency", "1", stdin=stdin,
    )  # fmt: skip
    assert (status, out) == (1, "")
    assert err == (
        "error: connection to NVIDIA API failed with status: 422 error: "
        "body -> passages -> 88 -> text\\n  ensure this value has at least 1 characters "
        "(document 600, input line 604)\n"
    )


def test_a_search_result_nvidia_refuses_is_named_by_its_input_line(
    http_server: StartServer,
) -> None:
    server = http_server(nvidia_refusing_a_blank_text)
    stdin = b'{"t": "doc"}\n\n{"t": "."}\n'
    status, _, err = cli(
        "rerank", "--query", "q", "--property", "t", "--base-url", server.url,
        "--header", "X-Nvidia-Api-Key: k", stdin=stdin,
    )  # fmt: skip
    assert status == 1
    assert err.endswith("(document 1, input line 3)\n"), err


@pytest.mark.usefixtures("keyed")
def test_timeout_comes_from_the_flag_or_go_duration_environment(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server(lambda r, w: w.block())
    monkeypatch.setenv("MODULES_CLIENT_TIMEOUT", "1m30x")
    status, out, err = cli("rerank", "--query", "q", "--base-url", server.url, stdin=b"d\n")
    assert (status, out) == (1, "")
    assert (
        err
        == 'error: parse MODULES_CLIENT_TIMEOUT as time.Duration: time: unknown unit "x" in duration "1m30x"\n'
    )

    monkeypatch.setenv("MODULES_CLIENT_TIMEOUT", "150ms")
    status, _, err = cli("rerank", "--query", "q", "--base-url", server.url, stdin=b"d\n")
    assert status == 1
    assert err.endswith(": context deadline exceeded\n")

    monkeypatch.setenv("MODULES_CLIENT_TIMEOUT", "1h")
    status, _, err = cli(
        "rerank", "--query", "q", "--base-url", server.url, "--timeout", "0.15", stdin=b"d\n"
    )
    assert status == 1
    assert err.endswith(": context deadline exceeded\n")


def test_the_console_script_and_python_m_agree(tmp_path: Path, nim: TestServer) -> None:
    env: dict[str, Any] = {"NVIDIA_APIKEY": "k", "PATH": str(Path(sys.executable).parent)}
    runs = [
        [sys.executable, "-m", "reranker_nvidia"],
        [str(Path(sys.executable).parent / "reranker-nvidia")],
    ]
    outputs = []
    for command in runs:
        done = subprocess.run(
            [*command, "rerank", "--query", "dog", "--base-url", nim.url, "--output", "json"],
            input=b"a dog\n\xc3\xa9t\xc3\xa9\n",
            capture_output=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["results"][1]["document"] == "été"

    failed = subprocess.run(
        [sys.executable, "-m", "reranker_nvidia", "rerank", "--query", "q", "--base-url", "http://127.0.0.1:9"],
        input=b"d\n", capture_output=True, env={"PATH": env["PATH"]}, check=False,
    )  # fmt: skip
    assert failed.returncode == 1
    assert failed.stdout == b""
    assert failed.stderr.count(b"\n") == 1
    assert b"Traceback" not in failed.stderr
