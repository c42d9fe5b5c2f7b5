"""The runner's fields for the extensions' cases, the tag that leaves them out, and the adapter.

Each field (contracts/README.md, "Extensions") is judged here against a toy
upstream whose request log the test writes, so every check is seen to fail
as well as pass: ``expect.warnings``, ``requests_in_order``,
``min_request_gap`` and a request header listed as ``null``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from reranker_contracts.check import check_suite
from reranker_contracts.runner import (
    TIMING_SLACK,
    TIMING_SLACK_SHARE,
    InProcess,
    run_case,
    run_suite,
)
from reranker_contracts.suite import (
    EXTENSION_SETTINGS,
    EXTENSION_TAG,
    Case,
    extension_uses,
    load_cases,
)
from reranker_nvidia import ModelDeprecationWarning, Passage, SettingsWarning
from reranker_nvidia.contract_adapter import adapter

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "contracts"
CASSETTES = ROOT / "cassettes"
PATH = "/v1/ranking"
BODY = {"model": "m", "query": {"text": "q"}, "passages": [{"text": "d"}]}
EXTENSION_AREAS = {
    "endpoints",
    "truncate",
    "token-limit",
    "retries",
    "rate-limit",
    "passages",
    "passages-image-rules",
    "lifecycle",
    "extension-settings",
    "fail-open",
    "scores",
    "usage",
    "cache",
    "trace",
}


class LoggedUpstream:
    """A stand-in for the emulator: it answers nothing, and its request log is the test's."""

    base_url = "http://127.0.0.1:9"

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records = [dict(r) for r in records]

    def prepare(self, interactions: list[dict[str, Any]], faults: Sequence[str]) -> None:
        del interactions, faults

    def received(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.records]

    def unused(self) -> list[dict[str, Any]]:
        return []

    def mismatches(self) -> list[dict[str, Any]]:
        return []


class Fixed:
    """A toy implementation that gives the same outcome whatever the case."""

    name = "fixed"
    parallel = True

    def __init__(self, outcome: Mapping[str, Any]) -> None:
        self.outcome = dict(outcome)

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        del kind, input_, env
        return dict(self.outcome)


def record(
    seq: int,
    path: str = PATH,
    body: Any = None,
    *,
    at: float | None = None,
    headers: Mapping[str, str] | None = None,
    authorization: str | None = None,
) -> dict[str, Any]:
    """One entry of the emulator's request log, as ``GET /_emulator/requests`` gives it."""
    entry: dict[str, Any] = {
        "seq": seq,
        "time": 1_700_000_000.0 + seq,
        "method": "POST",
        "path": path,
        "query": "",
        "headers": dict(headers or {}),
        "json": BODY if body is None else body,
        "body": json.dumps(BODY if body is None else body),
        "authorization_sha256": None,
    }
    if authorization is not None:
        entry["headers"]["authorization"] = "Bearer <redacted>"
        entry["authorization_sha256"] = hashlib.sha256(authorization.encode()).hexdigest()
    if at is not None:
        entry["received_at"] = at
    return entry


def request(path: str = PATH, body: Any = None, **headers: str | None) -> dict[str, Any]:
    wanted: dict[str, Any] = {"method": "POST", "url": "{{base}}" + path}
    wanted["json"] = BODY if body is None else body
    if headers:
        wanted["headers"] = {name.replace("_", "-"): value for name, value in headers.items()}
    return wanted


def make_case(expect: Mapping[str, Any], **fields: Any) -> Case:
    return Case(
        id="test/extension",
        description="an extension case",
        kind="rank",
        input={"query": "q", "documents": ["d"], "settings": {"baseURL": "{{base}}"}},
        expect=expect,
        source={"note": "test"},
        file=Path("test.json"),
        validity="valid",
        tags=("extension",),
        **fields,
    )


def judge(
    expect: Mapping[str, Any],
    outcome: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]] = (),
    **fields: Any,
) -> list[str]:
    result = run_case(
        make_case(expect, **fields), Fixed(outcome), LoggedUpstream(records), CASSETTES
    )
    assert result.status == ("passed" if not result.problems else "failed")
    return result.problems


# ---- expect.warnings ---------------------------------------------------------------------


def test_expected_warnings_are_compared_one_by_one() -> None:
    expect = {"scores": [1.0], "warnings": [{"message": "model m is deprecated"}]}
    assert judge(expect, {"scores": [1.0], "warnings": ["model m is deprecated"]}) == []
    (missing,) = judge(expect, {"scores": [1.0]})
    assert missing.startswith("expected 1 warning(s), got 0")
    (other,) = judge(expect, {"scores": [1.0], "warnings": ["model n is deprecated"]})
    assert other.startswith("warning 0 differs")
    (extra,) = judge(expect, {"scores": [1.0], "warnings": ["model m is deprecated"] * 2})
    assert extra.startswith("expected 1 warning(s), got 2")
    (bad,) = judge(expect, {"scores": [1.0], "warnings": "model m is deprecated"})
    assert bad.startswith("warnings must be a list of strings")


def test_a_warning_may_be_matched_by_its_start() -> None:
    expect = {"scores": [1.0], "warnings": [{"message": "model m", "match": "prefix"}]}
    assert judge(expect, {"scores": [1.0], "warnings": ["model m is deprecated"]}) == []
    assert judge(expect, {"scores": [1.0], "warnings": ["model n is deprecated"]}) != []


def test_an_empty_warnings_list_requires_none_and_no_list_checks_nothing() -> None:
    assert judge({"scores": [1.0], "warnings": []}, {"scores": [1.0]}) == []
    assert judge({"scores": [1.0], "warnings": []}, {"scores": [1.0], "warnings": ["w"]}) != []
    # An adapter that reports warnings passes a case that names none (old cases).
    assert judge({"scores": [1.0]}, {"scores": [1.0], "warnings": ["w"]}) == []


def test_warnings_are_checked_beside_an_error_too() -> None:
    expect = {"error": {"message": "boom"}, "warnings": [{"message": "w"}]}
    assert judge(expect, {"error": "boom", "warnings": ["w"]}) == []
    (problem,) = judge(expect, {"error": "boom"})
    assert problem.startswith("expected 1 warning(s), got 0")


# ---- requests: order, gaps, absent headers -----------------------------------------------


def test_requests_in_order_fails_another_order() -> None:
    first, second = {**BODY, "model": "a"}, {**BODY, "model": "b"}
    expect = {
        "requests": [request("/one", first), request("/two", second)],
        "requests_in_order": True,
        "scores": [1.0],
    }
    in_order = [record(1, "/one", first), record(2, "/two", second)]
    swapped = [record(1, "/two", second), record(2, "/one", first)]
    assert judge(expect, {"scores": [1.0]}, in_order) == []
    (problem,) = judge(expect, {"scores": [1.0]}, swapped)
    assert problem.startswith("the requests arrived in another order than listed")
    # Without the flag the same requests are a set.
    unordered = {k: v for k, v in expect.items() if k != "requests_in_order"}
    assert judge(unordered, {"scores": [1.0]}, swapped) == []


def test_min_request_gap_checks_every_consecutive_pair_with_slack() -> None:
    expect = {"requests": [request(), request(), request()], "min_request_gap": 0.1}
    expect["scores"] = [1.0]
    spaced = [record(1, at=10.0), record(2, at=10.1), record(3, at=10.2)]
    assert judge(expect, {"scores": [1.0]}, spaced) == []
    allowed = 0.1 * (1 - TIMING_SLACK_SHARE) - TIMING_SLACK  # 70 ms
    noisy = [record(1, at=10.0), record(2, at=10.0 + allowed + 0.001), record(3, at=10.2)]
    assert judge(expect, {"scores": [1.0]}, noisy) == []
    too_close = [record(1, at=10.0), record(2, at=10.0 + allowed - 0.001), record(3, at=10.2)]
    assert judge(expect, {"scores": [1.0]}, too_close) != []
    # Listed out of order, the log is sorted by arrival: 5 ms between the last two.
    close = [record(1, at=10.0), record(3, at=10.205), record(2, at=10.2)]
    (problem,) = judge(expect, {"scores": [1.0]}, close)
    assert problem == (
        "two requests arrived 5.0 ms apart; the case requires at least 100 ms "
        "(70 ms, less timing noise)"
    )


def test_min_request_gap_reads_received_at_before_the_wall_clock() -> None:
    expect = {"requests": [request(), request()], "min_request_gap": 0.5, "scores": [1.0]}
    # ``time`` says a second apart; ``received_at`` (monotonic) says 1 ms: it wins.
    assert judge(expect, {"scores": [1.0]}, [record(1, at=5.0), record(2, at=5.001)]) != []
    assert judge(expect, {"scores": [1.0]}, [record(1), record(2)]) == []


def test_a_header_listed_as_null_must_be_absent() -> None:
    expect = {"requests": [request(Authorization=None, Accept=None)], "scores": [1.0]}
    assert judge(expect, {"scores": [1.0]}, [record(1)]) == []
    (auth,) = judge(expect, {"scores": [1.0]}, [record(1, authorization="Bearer k")])
    assert auth.startswith("request header Authorization: expected none")
    (accept,) = judge(expect, {"scores": [1.0]}, [record(1, headers={"accept": "*/*"})])
    assert accept == "request header Accept: expected none, got '*/*'"


def test_an_expected_authorization_that_was_not_sent_says_so() -> None:
    expect = {"requests": [request(Authorization="Bearer k")], "scores": [1.0]}
    assert judge(expect, {"scores": [1.0]}, [record(1, authorization="Bearer k")]) == []
    (problem,) = judge(expect, {"scores": [1.0]}, [record(1)])
    assert problem == "request header Authorization: expected 'Bearer k', got none"


def test_go_expect_without_the_extension_fields_accepts_go_s_outcome() -> None:
    """Under --allow-go, Go's alternative checks neither warnings nor the gap it does not name."""
    expect = {
        "requests": [request(), request()],
        "min_request_gap": 1.0,
        "warnings": [{"message": "w"}],
        "scores": [1.0],
    }
    close = [record(1, at=1.0), record(2, at=1.001)]
    case = make_case(expect, go_expect={"scores": [1.0]}, divergence={"id": "D-X", "go": "none"})
    go_like = Fixed({"scores": [1.0]})
    strict = run_case(case, go_like, LoggedUpstream(close), CASSETTES)
    assert strict.status == "failed"
    allowed = run_case(case, go_like, LoggedUpstream(close), CASSETTES, allow_go=True)
    assert (allowed.status, allowed.matched) == ("passed", "go_expect")


# ---- the suite: the extension tag --------------------------------------------------------


def test_the_extension_tag_marks_exactly_the_cases_that_use_an_extension() -> None:
    cases = load_cases(SUITE)
    tagged = {case.id for case in cases if EXTENSION_TAG in case.tags}
    assert len(tagged) >= 40
    for case in cases:
        raw = {"input": case.input, "expect": case.expect}
        assert bool(extension_uses(raw)) == (case.id in tagged), case.id
        if case.id.split("/")[0] not in EXTENSION_AREAS:
            assert case.id not in tagged, case.id


def test_every_extension_area_has_its_cases_and_every_setting_is_exercised() -> None:
    cases = [c for c in load_cases(SUITE) if c.id.split("/")[0] in EXTENSION_AREAS]
    assert {c.id.split("/")[0] for c in cases} == EXTENSION_AREAS
    used = {key for c in cases for key in c.input.get("settings", {})}
    assert set(EXTENSION_SETTINGS) <= used
    for case in cases:
        if case.divergence is not None:
            assert case.divergence["id"].startswith("D-EXT-"), case.id
    endpoints = {c.input.get("settings", {}).get("endpoint") for c in cases}
    assert {"retrieval", "model", "ranking", "rerank", "auto"} <= endpoints


def test_check_requires_the_tag_and_two_requests_for_a_gap(tmp_path: Path) -> None:
    suite = tmp_path / "contracts"
    (suite / "cases" / "valid").mkdir(parents=True)
    (suite / "case.schema.json").write_text((SUITE / "case.schema.json").read_text())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "divergences.md").write_text("### D-EXT-RPM\n")
    (suite / "captures.json").write_text("{}")
    base = {
        "description": "the first case",
        "source": {"note": "test"},
        "kind": "rank",
        "input": {
            "query": "q",
            "documents": ["d"],
            "settings": {"baseURL": "{{base}}", "requestsPerMinute": 60},
        },
        "expect": {"requests": [request()], "min_request_gap": 1.0, "scores": [1.0]},
    }
    cases = [
        {**base, "id": "area/untagged"},
        {**base, "id": "area/tagged", "description": "the second case", "tags": ["extension"]},
        {
            **base,
            "id": "area/tagged-but-plain",
            "description": "the third case",
            "tags": ["extension"],
            "input": {"query": "q", "documents": ["d"], "settings": {"baseURL": "{{base}}"}},
            "expect": {"scores": [1.0]},
        },
    ]
    data = {"area": "area", "description": "test", "cases": cases}
    (suite / "cases" / "valid" / "area.json").write_text(json.dumps(data))
    problems = check_suite(suite)
    assert problems == [
        "cases/valid/area.json: area/untagged uses the setting requestsPerMinute but is not "
        "tagged extension",
        "cases/valid/area.json: area/untagged: expect.min_request_gap needs two expected requests",
        "cases/valid/area.json: area/tagged: expect.min_request_gap needs two expected requests",
        "cases/valid/area.json: area/tagged-but-plain is tagged extension but uses no extension",
    ]


def test_skip_tag_extension_leaves_out_every_extension_case() -> None:
    cases = [c for c in load_cases(SUITE) if EXTENSION_TAG in c.tags]
    failing = InProcess(lambda kind, input_, env: {"error": "no extensions here"})
    results = run_suite(cases, failing, CASSETTES, skip_tags=[EXTENSION_TAG])
    assert {r.status for r in results} == {"skipped"}
    assert len(results) == len(cases)


# ---- the port's adapter ------------------------------------------------------------------


def test_the_adapter_gives_passage_objects_to_the_client_as_passages() -> None:
    documents = adapter._documents(["plain", {"text": "t"}, {"image": "data:x"}, {}])
    assert documents == [
        "plain",
        Passage(text="t"),
        Passage(image="data:x"),
        Passage(),
    ]
    with pytest.raises(adapter.AdapterError, match="document 1 is neither"):
        adapter._documents(["plain", {"text": "t", "asset": "x"}])
    with pytest.raises(adapter.AdapterError, match="document 0 is neither"):
        adapter._documents([3])


def test_the_adapter_reports_deprecation_warnings_once_per_text_and_raises_others() -> None:
    def run() -> dict[str, Any]:
        for _ in range(2):
            warnings.warn("model m is deprecated", ModelDeprecationWarning, stacklevel=1)
        warnings.warn("model n is deprecated", ModelDeprecationWarning, stacklevel=1)
        return {"scores": [1.0]}

    assert adapter._reporting_warnings(run) == {
        "scores": [1.0],
        "warnings": ["model m is deprecated", "model n is deprecated"],
    }
    # The next case starts afresh: what was reported before is reported again.
    assert adapter._reporting_warnings(run)["warnings"][0] == "model m is deprecated"
    assert adapter._reporting_warnings(lambda: {"scores": []}) == {"scores": []}

    def other() -> dict[str, Any]:
        warnings.warn("not a setting", SettingsWarning, stacklevel=1)
        return {"scores": []}

    with pytest.warns(SettingsWarning, match="not a setting"):
        assert adapter._reporting_warnings(other) == {"scores": []}
