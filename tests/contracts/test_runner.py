"""The runner judges: it fails wrong outcomes and wrong requests, and says why."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reranker_contracts.runner import (
    ImplementationStartError,
    InProcess,
    Subprocess,
    emulator_upstream,
    report_json,
    run_case,
    run_cases,
    run_live,
)
from reranker_contracts.suite import (
    Case,
    SuiteError,
    find_suite,
    load_cases,
    substitute,
)
from reranker_nvidia.contract_adapter.adapter import execute, main

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "contracts"
CASSETTES = ROOT / "cassettes"


def case(case_id: str) -> Case:
    (found,) = [c for c in load_cases(SUITE) if c.id == case_id]
    return found


class Fixed:
    """An implementation that always answers the same outcome, and may make one request."""

    name = "fixed"

    def __init__(self, outcome: Mapping[str, Any], inner: InProcess | None = None) -> None:
        self.outcome = dict(outcome)
        self.inner = inner

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        if self.inner is not None:
            self.inner.run(kind, input_, env)
        return self.outcome


@pytest.fixture(scope="module")
def upstream() -> Any:
    with emulator_upstream() as running:
        yield running


def test_wrong_scores_fail_with_a_diff(upstream: Any) -> None:
    result = run_case(
        case("response-mapping/scores-placed-by-index"),
        Fixed({"scores": [9.0, -1.0, 0.5]}, InProcess(execute)),
        upstream,
        CASSETTES,
    )
    assert result.status == "failed"
    assert result.problems[0].startswith("scores differ:\n--- expected\n+++ actual")


def test_an_error_where_an_outcome_is_due_fails(upstream: Any) -> None:
    result = run_case(case("settings/custom-model"), Fixed({"error": "boom"}), upstream, CASSETTES)
    assert result.problems == ["expected settings, got the error: boom"]


def test_an_outcome_where_an_error_is_due_fails(upstream: Any) -> None:
    result = run_case(
        case("graphql-arguments/query-int-literal"),
        Fixed({"params": {"query": "42"}}),
        upstream,
        CASSETTES,
    )
    assert result.problems[0].startswith("expected an error, got an outcome")


def test_a_different_error_text_fails_and_a_prefix_is_enough_where_stated(upstream: Any) -> None:
    exact = run_case(
        case("errors/500-empty-body"),
        Fixed({"error": "connection to NVIDIA API failed with status: 500 "}, InProcess(execute)),
        upstream,
        CASSETTES,
    )
    assert exact.problems[0].startswith("error message differs")
    prefix = case("response-mapping/index-is-a-string")
    passed = run_case(
        prefix,
        Fixed(
            {"error": "failed to parse reranker response (status 200): anything"},
            InProcess(execute),
        ),
        upstream,
        CASSETTES,
    )
    assert passed.status == "passed"
    failed = run_case(
        prefix,
        Fixed({"error": "failed to parse reranker error response"}, InProcess(execute)),
        upstream,
        CASSETTES,
    )
    assert failed.problems[0].startswith("error does not start as expected")


def test_missing_requests_and_unused_answers_fail(upstream: Any) -> None:
    # Right outcome, but no request was made: the emulator's log says so.
    result = run_case(
        case("client-request/empty-query-is-sent"), Fixed({"scores": [-1.0]}), upstream, CASSETTES
    )
    assert result.status == "failed"
    assert result.problems[0].startswith("expected 1 request(s), the emulator received 0")


def test_a_wrong_header_fails(upstream: Any) -> None:
    original = case("headers-and-keys/environment-key-is-sent")
    changed = json.loads(json.dumps(original.input))
    changed["env"] = {"NVIDIA_APIKEY": "other-key"}
    altered = Case(
        id=original.id, description=original.description, kind=original.kind, input=changed,
        expect=original.expect, source=original.source, file=original.file, validity=original.validity,
        upstream=original.upstream,
    )  # fmt: skip
    result = run_case(altered, InProcess(execute), upstream, CASSETTES)
    assert result.problems == [
        "request header Authorization: expected 'Bearer env-key', got another value"
    ]


def test_go_outcomes_pass_only_when_allowed(upstream: Any) -> None:
    diverging = case("errors/422-list-joins-every-msg")
    go_like = Fixed(
        {"error": "connection to NVIDIA API failed with status: 422 error: first first"},
        InProcess(execute),
    )
    assert run_case(diverging, go_like, upstream, CASSETTES).status == "failed"
    allowed = run_case(diverging, go_like, upstream, CASSETTES, allow_go=True)
    assert (allowed.status, allowed.matched) == ("passed", "go_expect")


def test_reports_are_machine_readable(upstream: Any) -> None:
    results = run_cases([case("settings/custom-model")], InProcess(execute), upstream, CASSETTES)
    report = report_json(results, InProcess(execute))
    assert report["summary"] == "1 passed, 0 failed"
    assert report["cases"][0]["id"] == "settings/custom-model"
    assert report["cases"][0]["matched"] == "expect"
    json.dumps(report)


def program(tmp_path: Path, source: str) -> str:
    path = tmp_path / "impl.py"
    path.write_text(source)
    return f"{sys.executable} {path}"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("print('not json')", "stdout is not JSON"),
        ("import json; print(json.dumps([1]))", "stdout is not a JSON object"),
        (
            "import json,sys; print(json.dumps({'error': 'x'})); sys.exit(0)",
            "does not agree with the outcome",
        ),
        (
            "import json,sys; print(json.dumps({'settings': {}})); sys.exit(3)",
            "does not agree with the outcome",
        ),
        ("import time; time.sleep(5)", "ran longer than"),
    ],
)
def test_protocol_violations_fail_the_case(
    tmp_path: Path, upstream: Any, source: str, problem: str
) -> None:
    impl = Subprocess(program(tmp_path, source), timeout=1.0)
    result = run_case(case("settings/custom-model"), impl, upstream, CASSETTES)
    assert result.status == "failed"
    assert problem in result.problems[0]


def test_a_missing_program_fails_cleanly(upstream: Any) -> None:
    # Before any answer, a program that cannot start stops the run (one error, not one per case).
    with pytest.raises(ImplementationStartError, match=r"^cannot start /nonexistent/adapter"):
        run_case(
            case("settings/custom-model"),
            Subprocess("/nonexistent/adapter", 5),
            upstream,
            CASSETTES,
        )
    with pytest.raises(ValueError, match="needs a command"):
        Subprocess("  ", 5)


def test_the_adapter_reports_bad_input_with_exit_2() -> None:
    out = io.StringIO()
    assert main(io.BytesIO(b"not json"), out) == 2
    assert json.loads(out.getvalue())["error"].startswith("adapter: cannot run the case")
    out = io.StringIO()
    assert main(io.BytesIO(json.dumps({"kind": "bogus", "input": {}}).encode()), out) == 2
    out = io.StringIO()
    assert (
        main(
            io.BytesIO(
                json.dumps({"kind": "graphql-arguments", "input": {"arguments": "(("}}).encode()
            ),
            out,
        )
        == 2
    )
    assert "do not parse" in json.loads(out.getvalue())["error"]


def test_the_adapter_answers_each_kind() -> None:
    assert execute("settings", {"class": None}, {}) == {
        "settings": {"model": "nvidia/rerank-qa-mistral-4b", "baseURL": "https://ai.api.nvidia.com"}
    }
    assert execute("graphql-arguments", {"arguments": '(query: "q")'}, {}) == {
        "params": {"property": None, "query": "q"}
    }
    assert execute("rank", {"query": "q", "documents": []}, {}) == {"scores": []}
    assert execute("rerank", {"results": [], "params": None}, {}) == {"results": []}
    out = io.StringIO()
    assert (
        main(
            io.BytesIO(
                json.dumps(
                    {"kind": "rerank", "input": {"results": [{"a": 1}], "params": None}}
                ).encode()
            ),
            out,
        )
        == 1
    )
    assert json.loads(out.getvalue()) == {"error": "no params provided"}


def test_live_runs_skip_without_a_key_and_judge_only_counts() -> None:
    live_cases = [c for c in load_cases(SUITE) if c.live]
    assert live_cases
    skipped = run_live(load_cases(SUITE), InProcess(execute), "")
    assert [r.status for r in skipped] == ["skipped"] * len(live_cases)
    # With a key, the live base URL replaces the emulator's; a fake implementation shows the judging.
    judged = run_live(live_cases, Fixed({"scores": [1.0, 2.0]}), "real-key")
    assert [r.status for r in judged] == ["passed"]
    wrong = run_live(live_cases, Fixed({"scores": [float("inf")]}), "real-key")
    assert wrong[0].problems == [
        "expected 2 scores, got 1",
        "every score must be a finite number: [inf]",
    ]


def test_placeholders_and_suite_discovery(tmp_path: Path) -> None:
    assert substitute({"u": ["{{base}}/x", "{{hostport}}"], "n": 1}, "http://127.0.0.1:5") == {
        "u": ["http://127.0.0.1:5/x", "127.0.0.1:5"],
        "n": 1,
    }
    assert find_suite(SUITE) == SUITE
    with pytest.raises(SuiteError, match="is not the contract suite"):
        find_suite(tmp_path)
    with pytest.raises(SuiteError, match="cannot find the contract suite"):
        _find_outside(tmp_path)


def _find_outside(tmp_path: Path) -> Path:
    """find_suite from a folder with no suite above it, as if installed elsewhere."""
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        from reranker_contracts import suite

        original = suite.__file__
        suite.__file__ = str(tmp_path / "a" / "b" / "suite.py")
        try:
            return find_suite(None)
        finally:
            suite.__file__ = original
    finally:
        os.chdir(here)


def test_go_expect_mode_judges_each_go_expect_on_its_own(upstream: Any) -> None:
    # expect states this error by its prefix, so under --allow-go any text with that start
    # passes on expect and go_expect is never looked at; --go-expect judges by go_expect alone.
    prefix = case("response-mapping/index-is-a-string")
    assert prefix.go_expect is not None
    go_text = prefix.go_expect["error"]["message"]
    other = Fixed(
        {"error": "failed to parse reranker response (status 200): another reason"},
        InProcess(execute),
    )
    assert run_case(prefix, other, upstream, CASSETTES, allow_go=True).status == "passed"
    failed = run_case(prefix, other, upstream, CASSETTES, go_expect_only=True)
    assert failed.status == "failed"
    assert failed.problems[0].startswith("error message differs")
    go = run_case(
        prefix, Fixed({"error": go_text}, InProcess(execute)), upstream, CASSETTES,
        go_expect_only=True,
    )  # fmt: skip
    assert (go.status, go.matched) == ("passed", "go_expect")
    # A case without a divergence is judged by expect, as always; one with go_skip is skipped.
    plain = run_case(
        case("settings/custom-model"), InProcess(execute), upstream, CASSETTES, go_expect_only=True
    )
    assert (plain.status, plain.matched) == ("passed", "expect")
    skipped = run_case(
        case("graphql-arguments/query-int-literal"), Fixed({}), upstream, CASSETTES,
        go_expect_only=True,
    )  # fmt: skip
    assert (skipped.status, skipped.skipped_for) == ("skipped", "go_skip")


class Reordering:
    """The port, with its scores put out of order afterwards (a chunk-order bug)."""

    name = "reordering"

    def __init__(self, reorder: Any) -> None:
        self.reorder = reorder

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        outcome = InProcess(execute).run(kind, input_, env)
        return {"scores": self.reorder(outcome["scores"])}


def test_a_long_score_diff_is_summarised_and_kept_whole_in_the_report(upstream: Any) -> None:
    big = case("chunking/513-documents-two-requests")
    swapped = Reordering(lambda s: [int(x) for x in s[512:] + s[:512]])
    result = run_case(big, swapped, upstream, CASSETTES)
    shown = result.problems[0].splitlines()
    assert len(shown) <= 15, len(shown)
    assert shown[:4] == [
        "scores differ:",
        "513 of the first 513 positions differ",
        "  position 0: the values expected at 512",
        "  positions 1–512: the values expected at 0–511",
    ]
    assert shown[5] == "  [0] expected 0.0, got -1"
    assert shown[-1].startswith("(the whole diff, 1,0") and shown[-1].endswith("--json report)")
    whole = report_json([result], swapped)["cases"][0]["problems"][0]
    assert len(whole.splitlines()) > 1000
    assert whole.startswith("scores differ:\n--- expected\n+++ actual")
    reversed_ = run_case(big, Reordering(lambda s: s[::-1]), upstream, CASSETTES)
    assert "  positions 0–255: the values expected at 512–257" in reversed_.problems[0]
    # A short diff is shown whole, as before.
    rotated = run_case(big, Reordering(lambda s: s[512:] + s[:512]), upstream, CASSETTES)
    assert rotated.problems[0].startswith("scores differ:\n--- expected\n+++ actual")
    assert "--json" not in rotated.problems[0]


GO_TEXT_CASES = (
    "response-mapping/index-is-a-string",
    "response-mapping/logit-is-a-string",
    "errors/403-detail-is-a-number",
    "errors/403-detail-list",
)


def test_check_judges_every_go_expect_against_a_recorded_go_run(
    upstream: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reranker_contracts import cli
    from reranker_contracts.check import check_go_report
    from reranker_contracts.runner import judge_go_expect

    # A Go run, recorded: each case's requests made as the port makes them (Go's here), and
    # Go's error text as its outcome.
    results = []
    for case_id in GO_TEXT_CASES:
        diverging = case(case_id)
        assert diverging.go_expect is not None
        go = Fixed({"error": diverging.go_expect["error"]["message"]}, InProcess(execute))
        results.append(run_case(diverging, go, upstream, CASSETTES, go_expect_only=True))
    assert [r.status for r in results] == ["passed"] * len(GO_TEXT_CASES)
    report = report_json(results, Fixed({}))
    entries = {entry["id"]: entry for entry in json.loads(json.dumps(report))["cases"]}
    for case_id in GO_TEXT_CASES:
        assert judge_go_expect(case(case_id), entries[case_id], CASSETTES) == []
    # A go_expect that the recorded outcome does not meet is found, though expect (a prefix)
    # would have passed that outcome under --allow-go.
    wrong = case("response-mapping/index-is-a-string")
    altered = Case(
        id=wrong.id, description=wrong.description, kind=wrong.kind, input=wrong.input,
        expect=wrong.expect, source=wrong.source, file=wrong.file, validity=wrong.validity,
        upstream=wrong.upstream, divergence=wrong.divergence,
        go_expect={"error": {"message": "failed to parse reranker response (status 200): json: "
                             "cannot unmarshal string into Go struct field "
                             "rankResponse.rankings.0.index of type int"}},
    )  # fmt: skip
    problems = judge_go_expect(altered, entries[wrong.id], CASSETTES)
    assert problems and problems[0].startswith("error message differs")
    # A run that did not serve Go's requests cannot vouch for requests Go made.
    assert judge_go_expect(wrong, {**entries[wrong.id], "go_served": False}, CASSETTES) == [
        "the run did not serve Go's requests: record it with --go-expect"
    ]
    # The command: every go_expect of the suite is judged; the ones this report holds hold.
    path = tmp_path / "go-run.json"
    path.write_text(json.dumps(report))
    found, judged = check_go_report(SUITE, path)
    assert judged == sum(c.go_expect is not None for c in load_cases(SUITE))
    missing = [line.split(":")[0] for line in found if not line.startswith(" ")]
    assert len(missing) == judged - len(GO_TEXT_CASES)
    assert not set(GO_TEXT_CASES) & set(missing)
    assert cli.main(["check", "--go-report", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"{len(GO_TEXT_CASES)} of {judged} go_expect(s) hold for {path}"
