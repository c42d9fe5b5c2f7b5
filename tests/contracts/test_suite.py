"""The contract suite: it is sound, this port passes it in-process and through the adapter."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reranker_contracts import isolation
from reranker_contracts.check import check_suite
from reranker_contracts.runner import (
    CaseResult,
    InProcess,
    Subprocess,
    emulator_upstream,
    run_cases,
    run_suite,
    summary,
)
from reranker_contracts.suite import Case, find_suite, load_cases, off_machine_addresses, select
from reranker_nvidia.contract_adapter import schemas
from reranker_nvidia.contract_adapter.adapter import execute

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "contracts"
CASSETTES = ROOT / "cassettes"
CAPTURES = SUITE / "captures"


def failures(results: list[CaseResult]) -> str:
    return "\n".join(
        f"{r.case.id}: {' | '.join(r.problems)}" for r in results if r.status != "passed"
    )


def test_the_suite_is_sound() -> None:
    assert find_suite() == SUITE
    assert check_suite(SUITE, CAPTURES) == []


def test_every_capture_is_accounted_for() -> None:
    index = json.loads((SUITE / "captures.json").read_text())
    files = {p.relative_to(CAPTURES).as_posix() for p in CAPTURES.rglob("*") if p.is_file()}
    assert files - {"SOURCES.md"} == {name for name in index if not name.startswith("$")}


def test_the_port_passes_every_case_in_process() -> None:
    # run_suite, as the command line: the cases with an address off this machine run in a
    # loopback-only network namespace, or are skipped where none can be made.
    cases = load_cases(SUITE)
    assert len(cases) > 150
    results = run_suite(cases, InProcess(execute), CASSETTES)
    off = [c for c in cases if off_machine_addresses(c.kind, c.input)]
    if isolation.unavailable() is None:
        assert summary(results) == f"{len(cases)} passed, 0 failed", failures(results)
    else:
        skipped = f"{len(cases) - len(off)} passed, 0 failed, {len(off)} skipped"
        assert summary(results) == skipped, failures(results)


def test_go_outcomes_are_accepted_only_with_allow_go() -> None:
    """Each go_expect is a different outcome from expect, and --allow-go is what admits it."""
    cases = [c for c in load_cases(SUITE) if c.go_expect is not None]
    assert len(cases) >= 15
    for case in cases:
        assert case.divergence is not None
        assert case.go_expect != case.expect, case.id


def cases_by_id() -> dict[str, Case]:
    return {case.id: case for case in load_cases(SUITE)}


def test_every_divergence_has_go_expect_or_go_skip() -> None:
    """Under --allow-go every case accepts Go's outcome or is skipped with a reason."""
    diverging = [c for c in load_cases(SUITE) if c.divergence is not None]
    assert len(diverging) >= 40
    for case in diverging:
        assert (case.go_expect is None) != (case.go_skip is None), case.id
        if case.go_skip is not None:
            assert len(case.go_skip.split()) >= 8, case.id  # a reason, not a word
    for case in load_cases(SUITE):
        if case.divergence is None:
            assert case.go_expect is None and case.go_skip is None, case.id


def test_every_divergence_names_its_cases_in_the_divergence_document() -> None:
    """docs/divergences.md names every case that pins a D-id, in that D-id's entry, and no other.

    An entry names a case by its id, or a whole area by ``area/*`` (an extension's area).
    """
    document = (ROOT / "docs" / "divergences.md").read_text()
    entries = {
        match.group(1): " ".join(match.group(0).split())
        for match in re.finditer(r"^### (D-[A-Z0-9-]+) .*?(?=^### |^## |\Z)", document, re.M | re.S)
    }
    ids = cases_by_id()
    areas = {case_id.split("/")[0] for case_id in ids}
    for case in ids.values():
        if case.divergence is not None:
            entry = entries[case.divergence["id"]]
            area = case.id.split("/")[0]
            assert f"`{case.id}`" in entry or f"`{area}/*`" in entry, case.id
    for name, entry in entries.items():
        assert "Pinned by" in entry, name
        for token in re.findall(r"`([a-z][a-z-]*/[a-z0-9][a-z0-9-]*)`", entry):
            if token.split("/")[0] in areas:
                assert token in ids, f"{name} names {token}, which is no case"
        for area in re.findall(r"`([a-z][a-z-]*)/\*`", entry):
            assert area in areas, f"{name} names the area {area}/*, which holds no case"


def test_tags_come_from_the_listed_set() -> None:
    schema = json.loads((SUITE / "case.schema.json").read_text())
    allowed = schema["$defs"]["case"]["properties"]["tags"]["items"]["enum"]
    readme = (SUITE / "README.md").read_text()
    for tag in allowed:
        assert f"| `{tag}` |" in readme, tag
    used = {tag for case in load_cases(SUITE) for tag in case.tags}
    assert used == set(allowed)
    ids = cases_by_id()
    assert "go-json-escaping" in ids["client-request/body-escapes-html-like-go"].tags
    assert "go-stdlib-text" in ids["transport/dropped-before-response"].tags


def test_go_library_wording_is_tagged() -> None:
    """A case whose exact error holds Go's library wording carries go-stdlib-text."""
    wording = re.compile(
        r"\bEOF\b|unsupported protocol scheme|dial tcp|context deadline exceeded|"
        r"connection reset by peer|unexpected end of JSON input|invalid character|time: "
    )
    for case in load_cases(SUITE):
        error = case.expect.get("error")
        if error and error.get("match", "exact") == "exact" and wording.search(error["message"]):
            assert "go-stdlib-text" in case.tags, case.id


def test_nothing_in_the_suite_points_outside_the_repository() -> None:
    for path in sorted(SUITE.rglob("*")):
        if path.is_file() and CAPTURES not in path.parents:
            text = path.read_text(encoding="utf-8")
            assert "shared/" not in text, path
            assert "nim-api.md" not in text and "weaviate-module.md" not in text, path
    for case in load_cases(SUITE):
        assert "reference" not in case.source or "://" in case.source["reference"], case.id


def test_the_version_file_names_the_weaviate_commit() -> None:
    fields = dict(
        line.split("=", 1) for line in (SUITE / "VERSION").read_text().splitlines() if line
    )
    assert set(fields) == {"suite", "weaviate_commit", "go_version", "date"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", fields["suite"])
    # The Go release whose wording the Go texts hold: Go 1.27's encoding/json words them otherwise.
    assert re.fullmatch(r"1\.26\.\d+", fields["go_version"])
    assert f"Go {fields['go_version']}" in (SUITE / "README.md").read_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", fields["date"])
    assert fields["weaviate_commit"] == "adcffc5"
    assert f"`{fields['weaviate_commit']}`" in (SUITE / "README.md").read_text()


def test_no_case_makes_a_go_like_implementation_dial_off_the_machine() -> None:
    """The base URL a rank or rerank case hands over is on loopback, or Go never dials it.

    Go refuses the others before dialling: a scheme it cannot send, or the base-URL check
    (MODULES_VALIDATE_BASE_URL). Such a case sends no request, and either has no divergence
    (so Go, which passes it, refuses too) or is skipped for Go with go_skip.
    """
    loopback = re.compile(
        r"^(\{\{base\}\}|http://\{\{closed_hostport\}\}|https?://127\.0\.0\.1[:/]|https://\[::1%25lo\])"
    )
    for case in load_cases(SUITE):
        if case.kind not in ("rank", "rerank"):
            continue
        headers = [v for n, v in case.input.get("headers", []) if n.lower() == "x-nvidia-baseurl"]
        url = headers[-1] if headers else case.input.get("settings", {}).get("baseURL", "")
        if loopback.match(url) or url == "" or url.startswith("ftp://"):
            continue
        assert case.input.get("env", {}).get("MODULES_VALIDATE_BASE_URL"), (case.id, url)
        assert case.expect.get("requests") == [], (case.id, url)
        assert case.divergence is None or case.go_skip is not None, (case.id, url)


def test_ties_past_twelve_results_are_where_go_reorders() -> None:
    """Go's sort.Slice is stable up to 12 elements: the D-RANK-STABLE case needs more."""
    case = cases_by_id()["rerank-property/ties-keep-input-order-past-twelve"]
    assert case.go_expect is not None
    ours, go = case.expect["results"], case.go_expect["results"]
    assert len(ours) > 12
    assert ours != go
    assert sorted(map(json.dumps, ours)) == sorted(map(json.dumps, go))
    for order in (ours, go):
        scores = [r["_additional"]["rerank"][0]["score"] for r in order]
        assert scores == sorted(scores, reverse=True)
    for case_id in (
        "rerank-property/ties-keep-input-order",
        "rerank-property/non-string-values-become-empty",
    ):
        assert len(cases_by_id()[case_id].expect["results"]) <= 12


@pytest.fixture(scope="module")
def adapter_results() -> Iterator[list[CaseResult]]:
    # One case per area and validity through the real adapter process; the whole suite
    # through the adapter runs in scripts/test (about a minute).
    first_of_each_file: dict[Path, Case] = {}
    for case in load_cases(SUITE):
        first_of_each_file.setdefault(case.file, case)
    sample = list(first_of_each_file.values())
    adapter = Subprocess(f"{sys.executable} -m reranker_nvidia contracts adapter", timeout=60)
    with emulator_upstream() as upstream:
        yield run_cases(sample, adapter, upstream, CASSETTES)


def test_the_suite_passes_through_the_adapter_protocol(adapter_results: list[CaseResult]) -> None:
    files = {case.file for case in load_cases(SUITE)}
    assert len(files) > 30  # every case file of the suite, found
    assert len(adapter_results) == len(files)
    assert failures(adapter_results) == ""


def test_the_command_line_runs_and_reports(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reranker_nvidia", "contracts", "run", "--cases", "errors/*", "--skip", "errors/4*", "--json"],
        capture_output=True, check=False, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["failed"] == 0
    ids = [case["id"] for case in report["cases"]]
    assert ids and all(i.startswith("errors/") and not i.startswith("errors/4") for i in ids)

    done = subprocess.run(
        [sys.executable, "-m", "reranker_nvidia", "contracts", "check"],
        capture_output=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout.decode()
    assert done.stdout.decode().endswith("all sound\n")


def test_the_wire_schemas_match_the_models() -> None:
    assert schemas.stale(SUITE / "schemas") == []


def test_the_schemas_describe_what_the_port_sends_and_reads() -> None:
    import jsonschema

    from reranker_nvidia._gostd.json import marshal
    from reranker_nvidia.clients.ranker import get_rank_request

    def valid(name: str, value: object) -> None:
        jsonschema.validate(value, json.loads((SUITE / "schemas" / name).read_text()))

    valid("rank-request.schema.json", json.loads(marshal(get_rank_request("m", "q", ["a", "b"]))))
    valid(
        "rank-response.schema.json",
        {"rankings": [{"index": 0, "logit": -4.1015625}], "usage": {"prompt_tokens": 1}},
    )
    valid("additional-rerank.schema.json", [{"score": 0.5}])
    valid(
        "problem-details.schema.json",
        {"status": 403, "title": "Forbidden", "detail": "Authorization failed"},
    )
    with pytest.raises(jsonschema.ValidationError):
        valid("rank-response.schema.json", {"rankings": [{"index": "0", "logit": 1.0}]})


def test_select_applies_globs() -> None:
    cases = load_cases(SUITE)
    chosen = select(cases, ["settings/*", "errors/402-*"], ["settings/custom-*"])
    assert chosen
    assert all(c.id.startswith(("settings/", "errors/402-")) for c in chosen)
    assert not any(c.id.startswith("settings/custom-") for c in chosen)


@pytest.fixture
def suite_copy(tmp_path: Path) -> Path:
    """A copy of the suite, cassettes and docs, to break on purpose."""
    shutil.copytree(SUITE, tmp_path / "contracts")
    shutil.copytree(CASSETTES, tmp_path / "cassettes")
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "divergences.md", tmp_path / "docs" / "divergences.md")
    return tmp_path / "contracts"


def edit_cases(suite: Path, name: str, change: object) -> None:
    path = suite / "cases" / name
    data = json.loads(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))


def _untag_first_off_machine_case(data: dict[str, Any]) -> None:
    case = next(c for c in data["cases"] if "off-machine-address" in c.get("tags", []))
    case["tags"].remove("off-machine-address")
    if not case["tags"]:
        del case["tags"]


@pytest.mark.parametrize(
    ("file", "change", "problem"),
    [
        (
            "valid/settings.json",
            lambda d: d["cases"].append(d["cases"][0] | {"description": "another one"}),
            "is used 2 times",
        ),
        (
            "valid/settings.json",
            lambda d: d["cases"].append(d["cases"][0] | {"id": "settings/x"}),
            "description",
        ),
        (
            "valid/settings.json",
            lambda d: d["cases"][0].update(description="the model should be read"),
            "'should'",
        ),
        (
            "valid/settings.json",
            lambda d: d["cases"][0].update(id="errors/misplaced"),
            "not prefixed by its area",
        ),
        ("valid/settings.json", lambda d: d["cases"][0].update(kind="bogus"), "is not one of"),
        (
            "valid/settings.json",
            lambda d: d["cases"][0]["expect"].update(error={"message": "x"}),
            "valid",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][1]["upstream"].update(cassette="no-such-cassette"),
            "missing cassette",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][0]["upstream"]["replies"].append({"status": 200}),
            "one expected request",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][8].update(
                divergence={"id": "D-NOT-LISTED", "go": "x"}, go_skip="the reason for it"
            ),
            "not in docs/divergences.md",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][8].update(divergence={"id": "D-422-JOIN", "go": "x"}),
            "'go_skip' is a required property",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][8].update(go_skip="a reason without a divergence"),
            "'divergence' is a required property",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][8].update(tags=["go-everything"]),
            "is not one of",
        ),
        (
            "valid/chunking.json",
            lambda d: d["cases"][0]["expect"].update(scores=[], error={"message": "x"}),
            "valid",
        ),
        (
            "invalid/base-url-validation.json",
            _untag_first_off_machine_case,
            "but is not tagged off-machine-address",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][0]["input"]["settings"].update(baseURL="https://10.1.2.3"),
            "gives the address 10.1.2.3 but is not tagged off-machine-address",
        ),
        (
            "invalid/errors.json",
            lambda d: d["cases"][0].update(tags=["off-machine-address"]),
            "is tagged off-machine-address but gives only loopback addresses",
        ),
    ],
)
def test_check_finds_what_is_broken(
    suite_copy: Path, file: str, change: object, problem: str
) -> None:
    edit_cases(suite_copy, file, change)
    problems = check_suite(suite_copy, None)
    assert any(problem in p for p in problems), problems


def test_check_finds_unsound_cassettes_and_captures(suite_copy: Path, tmp_path: Path) -> None:
    cassettes = suite_copy.parent / "cassettes"
    (cassettes / "orphan.yaml").write_text("version: 1\ninteractions: []\n")
    text = (cassettes / "error-429-too-many-requests.yaml").read_text()
    (cassettes / "error-429-too-many-requests.yaml").write_text(
        text.replace("      Accept:", "      Authorization:\n      - Bearer secret\n      Accept:")
    )
    captures = tmp_path / "captures"
    (captures / "errors").mkdir(parents=True)
    (captures / "errors" / "999_new_capture.json").write_text("{}")
    problems = "\n".join(check_suite(suite_copy, captures))
    assert "orphan.yaml: no provenance mapping" in problems
    assert "cassettes/orphan.yaml is used by no case" in problems
    assert "keeps the secret header Authorization" in problems
    assert "the capture errors/999_new_capture.json is not accounted for" in problems


def test_the_readmes_quote_no_stale_case_count() -> None:
    """A number of cases the READMEs quote is the suite's own (they quoted 189 at 270)."""
    count = len(load_cases(SUITE))
    for readme in (ROOT / "README.md", SUITE / "README.md"):
        text = " ".join(readme.read_text().split())
        for quoted in re.findall(r"\b(\d[\d,]*) (?:contract )?cases\b", text):
            assert int(quoted.replace(",", "")) == count, (readme.name, quoted)


def test_check_reads_cassettes_as_replay_will(suite_copy: Path) -> None:
    """A cassette the emulator cannot replay is a check problem, not a failure mid-run."""
    cassettes = suite_copy.parent / "cassettes"
    path = cassettes / "error-429-too-many-requests.yaml"
    path.write_text(path.read_text().replace("code: 429", "code: 4290"))
    problems = "\n".join(check_suite(suite_copy, None))
    assert "error-429-too-many-requests.yaml: cassette " in problems
    assert "response.status.code must be an HTTP status code" in problems
