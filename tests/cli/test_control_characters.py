"""No line the command line writes can drive the terminal: a server's text is escaped.

A hostile or broken server's error text (an ESC sequence that retitles the window or clears
the screen, a BEL, a NUL) reaches ``error:``, ``hint:`` and ``warning:`` lines escaped, as
the table output escapes a document.
"""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

import pytest

from reranker_nvidia.cli import rerank
from reranker_nvidia.errors import ModelDeprecationWarning, UpstreamError
from tests.cli._support import cli
from tests.support.httptest import StartServer

HOSTILE = "bad\x1b]0;pwned\x07 key\x00\x1b[2J\x9b31m\u202eend\x7f"
SHOWN = "bad\\x1b]0;pwned\\x07 key\\x00\\x1b[2J\\x9b31m\\u202eend\\x7f"


def control_characters(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]


def test_a_servers_error_text_is_escaped_on_the_error_line(http_server: StartServer) -> None:
    server = http_server(lambda r, w: w.respond(403, {"detail": HOSTILE}))
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", server.url,
        "--header", "X-Nvidia-Api-Key: k", stdin=b"doc\n",
    )  # fmt: skip
    assert (status, out) == (1, "")
    assert err == f"error: connection to NVIDIA API failed with status: 403 error: {SHOWN}\n"
    assert control_characters(err) == []


def test_a_hint_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: argparse.Namespace, **streams: Any) -> int:
        raise UpstreamError("status: 404", status=404, hint=f"set endpoint {HOSTILE}")

    monkeypatch.setattr(rerank, "run", failing)
    status, _, err = cli("rerank", "--query", "q")
    assert status == 1
    assert err == f"error: status: 404\nhint: set endpoint {SHOWN}\n"


def test_a_warning_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    def warning(args: argparse.Namespace, **streams: Any) -> int:
        warnings.warn(f"model {HOSTILE} is deprecated", ModelDeprecationWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(rerank, "run", warning)
    status, _, err = cli("rerank", "--query", "q")
    assert status == 0
    assert err == f"warning: model {SHOWN} is deprecated\n"


def test_an_internal_error_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(args: argparse.Namespace, **streams: Any) -> int:
        raise ValueError(HOSTILE)

    monkeypatch.setattr(rerank, "run", bug)
    status, _, err = cli("rerank", "--query", "q")
    assert status == 1
    assert f"(ValueError): {SHOWN};" in err
    assert control_characters(err) == []


def test_json_output_escapes_what_a_terminal_obeys_and_reads_back_the_same(
    http_server: StartServer,
) -> None:
    model_id = "m\x9b2J\u202eodd\x7f"
    catalogue = {"object": "list", "data": [{"id": model_id, "object": "model"}]}
    server = http_server(lambda r, w: w.respond(200, catalogue))
    status, out, _ = cli("models", "--base-url", server.url, "--json")
    assert status == 0
    assert out == '{"models": [{"id": "m\\u009b2J\\u202eodd\\u007f", "root": null}]}\n'
    assert json.loads(out)["models"][0]["id"] == model_id


def test_json_results_escape_a_document_s_controls(http_server: StartServer) -> None:
    def score(request: Any, w: Any) -> None:
        w.respond(200, {"rankings": [{"index": 0, "logit": 1.0}]})

    server = http_server(score)
    document = "a\x1b[2Jb\x85c\u2066d"
    status, out, _ = cli(
        "rerank", "--query", "q", "--base-url", server.url, "--output", "json",
        "--header", "X-Nvidia-Api-Key: k", stdin=document.encode() + b"\n",
    )  # fmt: skip
    assert status == 0
    assert control_characters(out) == [] and "\u2066" not in out
    assert json.loads(out)["results"][0]["document"] == document
