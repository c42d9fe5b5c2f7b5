"""The runner's newer duties: Go's requests, skips, tags, parallel jobs, persistent adapters."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from reranker_contracts.implementations import (
    ImplementationStartError,
    Persistent,
    Subprocess,
)
from reranker_contracts.runner import (
    CaseResult,
    InProcess,
    closed_hostport,
    emulator_upstream,
    interactions_for,
    run_case,
    run_suite,
)
from reranker_contracts.suite import Case, allowed_tags, load_cases, substitute
from reranker_nvidia.contract_adapter.adapter import execute

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "contracts"
CASSETTES = ROOT / "cassettes"
ADAPTER = f"{sys.executable} -m reranker_nvidia contracts adapter"
PATH = "/v1/retrieval/nvidia/reranking"
BODY = {"model": "nvidia/rerank-qa-mistral-4b", "query": {"text": "q"}, "passages": [{"text": "d"}]}


def rank_case(
    *,
    go_requests: list[dict[str, Any]] | None = None,
    go_outcome: Mapping[str, Any] | None = None,
    go_skip: str | None = None,
    tags: tuple[str, ...] = (),
) -> Case:
    """A rank case with one inline reply, and optionally Go's own requests and outcome."""
    expect: dict[str, Any] = {
        "requests": [
            {
                "method": "POST",
                "url": "{{base}}" + PATH,
                "headers": {"Authorization": "Bearer secret-key-123", "Accept": "application/json"},
                "json": BODY,
            }
        ],
        "scores": [-1.0],
    }
    go_expect: dict[str, Any] | None = None
    if go_requests is not None or go_outcome is not None:
        go_expect = dict(go_outcome or {"scores": [-1.0]})
        if go_requests is not None:
            go_expect["requests"] = go_requests
    return Case(
        id="test/one-rank",
        description="one rank request",
        kind="rank",
        input={
            "query": "q",
            "documents": ["d"],
            "settings": {"baseURL": "{{base}}"},
            "env": {"NVIDIA_APIKEY": "secret-key-123"},
        },
        expect=expect,
        source={"note": "test"},
        file=Path("test.json"),
        validity="valid",
        upstream={
            "replies": [{"status": 200, "json": {"rankings": [{"index": 0, "logit": -1.0}]}}]
        },
        go_expect=go_expect,
        go_skip=go_skip,
        tags=tags,
    )


class Poster:
    """A toy implementation: POSTs the expected body to ``{baseURL}{path}``, returns the scores."""

    name = "poster"

    def __init__(self, path: str) -> None:
        self.path = path

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        response = httpx.post(
            input_["settings"]["baseURL"] + self.path,
            json=BODY,
            headers={
                "Authorization": f"Bearer {env['NVIDIA_APIKEY']}",
                "Accept": "application/json",
            },
        )
        if response.status_code != 200:
            return {"error": f"status {response.status_code}"}
        return {"scores": [r["logit"] for r in response.json()["rankings"]]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Any]:
    with emulator_upstream() as running:
        yield running


def test_a_wrong_path_shows_what_was_received_and_why(upstream: Any) -> None:
    result = run_case(rank_case(), Poster("/" + PATH), upstream, CASSETTES)
    assert result.status == "failed"
    text = "\n".join(result.problems)
    assert f"received: POST /{PATH}; Authorization: Bearer <redacted>" in text
    assert f"expected: POST {PATH}; Authorization: Bearer <key>" in text
    assert "Accept: application/json" in text
    assert "body: the same JSON as expected" in text
    assert f"the emulator answered 599 to POST /{PATH}: path differ(s)" in text
    assert f"(it expected POST {PATH})" in text
    assert "secret-key-123" not in text


def test_a_wrong_body_shows_a_diff_of_the_bodies(upstream: Any) -> None:
    case = rank_case()
    changed = json.loads(json.dumps(case.expect))
    changed["requests"][0]["json"]["query"]["text"] = "other"
    altered = dataclasses.replace(case, expect=changed)
    text = "\n".join(run_case(altered, Poster(PATH), upstream, CASSETTES).problems)
    assert "body differs:" in text
    assert '-    "text": "other"' in text
    assert '+    "text": "q"' in text


def test_go_requests_are_served_and_judged_only_under_allow_go(upstream: Any) -> None:
    go_requests = [{"method": "POST", "url": "{{base}}/" + PATH, "json": BODY}]
    case = rank_case(go_requests=go_requests)
    go_like = Poster("/" + PATH)
    refused = run_case(case, go_like, upstream, CASSETTES)
    assert refused.status == "failed"
    allowed = run_case(case, go_like, upstream, CASSETTES, allow_go=True)
    assert (allowed.status, allowed.matched, allowed.outcome) == (
        "passed",
        "go_expect",
        {"scores": [-1.0]},
    )
    # The port's way still passes, and Go's unused answer is not held against it.
    port_like = run_case(case, Poster(PATH), upstream, CASSETTES, allow_go=True)
    assert (port_like.status, port_like.matched) == ("passed", "expect")
    assert len(interactions_for(case, CASSETTES, upstream.base_url, allow_go=True)) == 2
    assert len(interactions_for(case, CASSETTES, upstream.base_url)) == 1


def test_go_expect_without_requests_is_judged_on_the_expected_requests(upstream: Any) -> None:
    case = rank_case(go_outcome={"error": {"message": "status 599"}})
    # The outcome is Go's, but the request is not the one expected: still a failure.
    result = run_case(case, Poster("/" + PATH), upstream, CASSETTES, allow_go=True)
    assert result.status == "failed"
    assert any(
        p.startswith("nor does it meet go_expect: no received request") for p in result.problems
    )


def test_go_skip_skips_only_under_allow_go(upstream: Any) -> None:
    case = rank_case(go_skip="Go would dial off the machine")
    skipped = run_case(case, Poster(PATH), upstream, CASSETTES, allow_go=True)
    assert (skipped.status, skipped.problems) == ("skipped", ["Go would dial off the machine"])
    assert run_case(case, Poster(PATH), upstream, CASSETTES).status == "passed"


def test_skip_tags_skip_the_tagged_cases_only() -> None:
    tagged = rank_case(tags=("go-stdlib-text",))
    plain = rank_case()
    results = run_suite(
        [tagged, plain], Poster(PATH), CASSETTES, jobs=1, skip_tags=["go-stdlib-text"]
    )
    assert [r.status for r in results] == ["skipped", "passed"]
    assert results[0].problems == ["tagged go-stdlib-text"]


def test_allowed_tags_come_from_the_schema(tmp_path: Path) -> None:
    schema = {"properties": {"tags": {"type": "array", "items": {"enum": ["a-tag", "b-tag"]}}}}
    (tmp_path / "case.schema.json").write_text(json.dumps({"$defs": {"case": schema}}))
    assert allowed_tags(tmp_path) == ["a-tag", "b-tag"]


def test_closed_hostport_refuses_connections() -> None:
    hostport = closed_hostport()
    host, port = hostport.split(":")
    assert host == "127.0.0.1"
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 2):
        pass
    assert substitute("dial tcp {{closed_hostport}}", "http://x:1", hostport) == (
        f"dial tcp {hostport}"
    )
    # Left alone when the runner has no closed port to give.
    assert substitute("{{closed_hostport}}", "http://x:1") == "{{closed_hostport}}"


def _sample() -> list[Case]:
    """A handful of cases: the first two of every case file (one of an extension's file)."""
    taken: dict[Path, list[Case]] = {}
    for case in load_cases(SUITE):
        wanted = 1 if "extension" in case.tags else 2
        if case.go_skip is None and len(taken.setdefault(case.file, [])) < wanted:
            taken[case.file].append(case)
    return [case for cases in taken.values() for case in cases]


def _verdicts(results: list[CaseResult]) -> list[tuple[str, str, str]]:
    """Id, status and outcome, with each job's emulator port left out."""
    return [
        (r.case.id, r.status, re.sub(r"127\.0\.0\.1:\d+", "HOST", json.dumps(r.outcome)))
        for r in results
    ]


def test_persistent_gives_the_one_shot_results_and_two_jobs_the_one_job_results() -> None:
    cases = _sample()
    assert len(cases) >= 20
    one_shot = run_suite(cases, Subprocess(ADAPTER, 60), CASSETTES, jobs=2)
    with Persistent(f"{ADAPTER} --persistent", 60) as persistent:
        alone = run_suite(cases, persistent, CASSETTES, jobs=1)
        seen: list[str] = []
        paired = run_suite(
            cases, persistent, CASSETTES, jobs=2, on_result=lambda r: seen.append(r.case.id)
        )
    assert _verdicts(one_shot) == _verdicts(alone) == _verdicts(paired)
    in_process = run_suite(cases, InProcess(execute), CASSETTES, jobs=2)
    assert _verdicts(in_process) == _verdicts(alone)
    assert seen == [case.id for case in cases]  # reported in suite order


def test_each_job_has_its_own_emulator() -> None:
    opened: list[str] = []

    def factory() -> Any:
        from contextlib import contextmanager

        @contextmanager
        def recorded() -> Iterator[Any]:
            with emulator_upstream() as running:
                opened.append(running.base_url)
                yield running

        return recorded()

    cases = [rank_case() for _ in range(6)]
    results = run_suite(cases, Poster(PATH), CASSETTES, jobs=3, upstream_factory=factory)
    assert [r.status for r in results] == ["passed"] * 6
    assert len(opened) == 3
    assert len(set(opened)) == 3


def test_an_adapter_that_cannot_start_stops_the_run_once() -> None:
    cases = _sample()[:5]
    with pytest.raises(ImplementationStartError, match="cannot start /nonexistent/adapter"):
        run_suite(cases, Subprocess("/nonexistent/adapter", 5), CASSETTES, jobs=2)
    dies = f"{sys.executable} -c 'import sys; sys.exit(4)'"
    with pytest.raises(ImplementationStartError, match="exited with status 4"):
        run_suite(cases, Subprocess(dies, 5), CASSETTES, jobs=2)
    with (
        Persistent(dies, 5) as persistent,
        pytest.raises(ImplementationStartError, match="before answering the first case"),
    ):
        run_suite(cases, persistent, CASSETTES, jobs=2)


def test_a_persistent_adapter_that_dies_later_fails_only_its_case(tmp_path: Path) -> None:
    script = tmp_path / "adapter.py"
    script.write_text(
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    case = json.loads(line)\n"
        "    if case['input'].get('class', {}) is None:\n"
        "        sys.exit(5)\n"
        "    answer = {'id': case['id'], 'settings': {'model': 'm', 'baseURL': 'b'}}\n"
        "    print(json.dumps(answer), flush=True)\n"
    )
    cases = [c for c in load_cases(SUITE) if c.kind == "settings"]
    with Persistent(f"{sys.executable} {script}", 10) as persistent:
        results = run_suite(cases, persistent, CASSETTES, jobs=1)
    died = [r for r in results if r.case.input.get("class", {}) is None]
    assert died
    assert all("exited with status 5 without answering" in r.problems[0] for r in died)
    # The cases after a death get a fresh process.
    first = results.index(died[0])
    later = [r for r in results[first:] if r not in died]
    assert later
    assert all(r.outcome == {"settings": {"model": "m", "baseURL": "b"}} for r in later)


class GoRank:
    """Go's Rank at adcffc5 in outline (modules/reranker-nvidia/clients/ranker.go).

    Chunks of ``max_documents`` (512), each POSTed to ``{baseURL}/v1/retrieval/nvidia/reranking``
    with Go's body; a 200's ``rankings`` give the scores, placed by index in a slice as long as
    the rankings; chunk scores are joined in chunk order. It reads only ``model`` and
    ``baseURL``, as Go does: enough to judge the go_expect of the extensions' cases.
    """

    name = "go-rank"

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        settings = input_.get("settings", {})
        model = settings.get("model", "nvidia/rerank-qa-mistral-4b")
        documents = list(input_["documents"])
        size = int(input_.get("max_documents", 512))
        scores: list[float] = []
        for start in range(0, len(documents), size):
            chunk = documents[start : start + size]
            response = httpx.post(
                settings["baseURL"] + PATH,
                json={
                    "model": model,
                    "query": {"text": input_["query"]},
                    "passages": [{"text": d} for d in chunk],
                },
                headers={
                    "Authorization": f"Bearer {env['NVIDIA_APIKEY']}",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                },
            )
            if response.status_code != 200:
                return {
                    "error": f"connection to NVIDIA API failed with status: {response.status_code}"
                }
            rankings = response.json().get("rankings") or []
            placed = [0.0] * len(rankings)
            for ranking in rankings:
                placed[ranking["index"]] = ranking["logit"]
            scores.extend(placed)
        return {"scores": scores}


@pytest.mark.parametrize(
    "case_id",
    [
        "endpoints/rerank-gateway-top-n-is-each-chunk-s-count",
        "extension-settings/max-documents-as-a-class-setting",
    ],
)
def test_go_s_outcome_of_an_extension_case_is_stated_and_served(
    upstream: Any, case_id: str
) -> None:
    (case,) = [c for c in load_cases(SUITE) if c.id == case_id]
    assert case.go_skip is None and case.go_expect is not None
    assert run_case(case, GoRank(), upstream, CASSETTES).status == "failed"
    judged = run_case(case, GoRank(), upstream, CASSETTES, go_expect_only=True)
    assert (judged.status, judged.problems) == ("passed", [])
    allowed = run_case(case, GoRank(), upstream, CASSETTES, allow_go=True)
    assert (allowed.status, allowed.matched) == ("passed", "go_expect")
