"""``rerank --fail-open``, ``--score-transform`` and ``--min-score`` on every input path.

Fail-open (D-EXT-FAIL-OPEN): the input order, an empty score column (JSON: ``null``, or no
``rerank`` entry for objects), one ``warning:`` line on stderr, exit status 3. The threshold
(D-EXT-SCORES) drops what scores below it, after the sort, on the transformed scale.
"""

from __future__ import annotations

import base64
import io
import json
import math
import sys

import pytest

from reranker_nvidia.cli.main import build_parser, main
from reranker_nvidia.cli.rerank import NOT_RERANKED
from tests.support.httptest import Request, StartServer, TestServer, Writer

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
WARNING_500 = (
    "warning: reranking failed, documents kept in their input order: "
    "connection to NVIDIA API failed with status: 500 error: down\n"
)
LINES = b"aaaa\nb\nccc\ndd\n"  # logits 4, 1, 3, 2 (by length)


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
    passages = request.json().get("passages") or []
    scores = [(i, float(len(p["text"])) if "text" in p else 100.0) for i, p in enumerate(passages)]
    w.respond(200, {"rankings": [{"index": i, "logit": s} for i, s in scores]})


def failing(request: Request, w: Writer) -> None:
    w.respond(500, {"detail": "down"})


@pytest.fixture
def nim(http_server: StartServer) -> TestServer:
    return http_server(by_length)


@pytest.fixture
def down(http_server: StartServer) -> TestServer:
    return http_server(failing)


@pytest.fixture(autouse=True)
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "env-key")


def objects(*items: dict[str, object]) -> bytes:
    return "\n".join(json.dumps(item) for item in items).encode()


# ---- fail-open, each path ------------------------------------------------------------------


def test_the_exit_status_is_distinct() -> None:
    assert NOT_RERANKED == 3
    assert NOT_RERANKED not in (0, 1, 2, 130)


def test_lines_fail_open_print_the_input_order_with_an_empty_score(down: TestServer) -> None:
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", down.url, "--fail-open", stdin=LINES
    )
    assert (status, err) == (NOT_RERANKED, WARNING_500)
    rows = [line.split() for line in out.splitlines()[2:]]
    assert rows == [["1", "1", "aaaa"], ["2", "2", "b"], ["3", "3", "ccc"], ["4", "4", "dd"]]
    assert out.splitlines()[0].split() == ["#", "line", "score", "document"]


def test_on_error_input_order_is_the_same_as_fail_open_in_json(down: TestServer) -> None:
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", down.url, "--on-error", "input_order",
        "--output", "json", "--min-score", "2", stdin=LINES,
    )  # fmt: skip
    assert (status, err) == (NOT_RERANKED, WARNING_500)
    results = json.loads(out)["results"]
    assert [(r["index"], r["line"], r["score"]) for r in results] == [
        (0, 1, None), (1, 2, None), (2, 3, None), (3, 4, None),
    ]  # fmt: skip


def test_objects_fail_open_come_back_as_they_came(down: TestServer) -> None:
    items = [{"t": "aaaa", "_additional": {"id": "x"}}, {"t": "b"}, {"t": "ccc"}]
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", down.url, "--property", "t", "--fail-open",
        "--output", "json", stdin=objects(*items),
    )  # fmt: skip
    assert (status, err) == (NOT_RERANKED, WARNING_500)
    assert [json.loads(line) for line in out.splitlines()] == items


def test_objects_fail_open_table_has_an_empty_score(down: TestServer) -> None:
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", down.url, "--property", "t", "--fail-open",
        stdin=objects({"t": "aaaa"}, {"t": "b"}),
    )  # fmt: skip
    assert (status, err) == (NOT_RERANKED, WARNING_500)
    assert [line.split() for line in out.splitlines()[2:]] == [["1", "1", "aaaa"], ["2", "2", "b"]]


def test_image_passages_fail_open_come_back_as_they_came(down: TestServer) -> None:
    items = [{"t": "short"}, {"img": PNG}, {"t": "longer", "img": PNG}]
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", down.url, "--property", "t",
        "--image-property", "img", "--fail-open", "--output", "json", stdin=objects(*items),
    )  # fmt: skip
    assert (status, err) == (NOT_RERANKED, WARNING_500)
    assert [json.loads(line) for line in out.splitlines()] == items


def test_without_fail_open_the_error_is_go_s(down: TestServer) -> None:
    status, out, err = cli("rerank", "--query", "q", "--base-url", down.url, stdin=LINES)
    assert (status, out) == (1, "")
    assert err == "error: connection to NVIDIA API failed with status: 500 error: down\n"


def test_fail_open_that_is_not_needed_changes_nothing(nim: TestServer) -> None:
    plain = cli("rerank", "--query", "q", "--base-url", nim.url, stdin=LINES)
    opened = cli("rerank", "--query", "q", "--base-url", nim.url, "--fail-open", stdin=LINES)
    assert opened == plain
    assert plain[0] == 0


# ---- --min-score and --score-transform, each path ---------------------------------------------


def test_min_score_drops_lines_below_it_after_the_sort(nim: TestServer) -> None:
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--min-score", "2", "--output", "json",
        stdin=LINES,
    )  # fmt: skip
    assert (status, err) == (0, "")
    results = json.loads(out)["results"]
    assert [(r["document"], r["score"]) for r in results] == [
        ("aaaa", 4.0), ("ccc", 3.0), ("dd", 2.0),
    ]  # fmt: skip


def test_min_score_is_on_the_transformed_scale(nim: TestServer) -> None:
    threshold = 1 / (1 + math.exp(-0.3))  # nvidia-rag of the logit 3: kept
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--score-transform", "nvidia-rag",
        "--min-score", repr(threshold), "--output", "json", stdin=LINES,
    )  # fmt: skip
    assert (status, err) == (0, "")
    results = json.loads(out)["results"]
    assert [r["document"] for r in results] == ["aaaa", "ccc"]
    assert results[0]["score"] == pytest.approx(1 / (1 + math.exp(-0.4)))


def test_sigmoid_scores_are_between_0_and_1_in_the_table(nim: TestServer) -> None:
    status, out, _ = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--score-transform", "sigmoid",
        stdin=LINES,
    )  # fmt: skip
    assert status == 0
    scores = [float(line.split()[2]) for line in out.splitlines()[2:]]
    assert scores == [round(1 / (1 + math.exp(-x)), 4) for x in (4.0, 3.0, 2.0, 1.0)]


def test_min_score_drops_objects_through_the_rerank_property(nim: TestServer) -> None:
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--property", "t", "--min-score", "3",
        "--output", "json", stdin=objects({"t": "aaaa"}, {"t": "b"}, {"t": "ccc"}),
    )  # fmt: skip
    assert (status, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["t"], line["_additional"]["rerank"]) for line in lines] == [
        ("aaaa", [{"score": 4.0}]), ("ccc", [{"score": 3.0}]),
    ]  # fmt: skip


def test_min_score_drops_image_passages(nim: TestServer) -> None:
    items = [{"t": "short"}, {"img": PNG}, {"t": "ab", "img": PNG}]
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--property", "t",
        "--image-property", "img", "--min-score", "5", "--output", "json", stdin=objects(*items),
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert [json.loads(line).get("t") for line in out.splitlines()] == [None, "short"]


def test_a_threshold_above_every_score_prints_no_row(nim: TestServer) -> None:
    status, out, err = cli(
        "rerank", "--query", "q", "--base-url", nim.url, "--min-score", "99", "--output", "json",
        stdin=LINES,
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert json.loads(out)["results"] == []


def test_a_bad_threshold_is_a_usage_error_before_anything_is_sent(
    nim: TestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli("rerank", "--query", "q", "--base-url", nim.url, "--min-score", "nan", stdin=LINES)
    assert exited.value.code == 2
    assert "--min-score: must be a finite number, got nan" in capsys.readouterr().err
    assert nim.requests == []


# ---- the help says which scale, and the exit status -------------------------------------------


def test_the_help_says_the_scale_and_the_exit_status() -> None:
    parser = build_parser("rerank")
    text = " ".join(
        next(
            p for a in parser._actions if hasattr(a, "choices") and a.choices
            for n, p in a.choices.items() if n == "rerank"  # type: ignore[union-attr]
        ).format_help().split()
    )  # fmt: skip
    assert "raw logits" in text
    assert "0-1 relevance_score" in text
    assert "3 not reranked" in text
    assert "--fail-open" in text
    top = " ".join(parser.format_help().split())
    assert "3 not reranked" in top
