"""``reranker-nvidia contracts check``: the suite validates itself.

Checks, in order: every case file against contracts/case.schema.json; ids
unique across the suite and prefixed by their file's area; descriptions
unique in a file, short, and free of "should" (JSON-Schema-Test-Suite's
rule); valid cases expect an outcome and invalid ones an error; inline
replies paired one to one with expected requests; every referenced cassette
present and sound (format, provenance, no secrets) and every cassette used;
the tag ``extension`` on exactly the cases that use an extension setting, a
passage object, ``warnings`` or ``min_request_gap``; the tag ``off-machine-address``
on exactly the cases that give an address that is not this machine's loopback;
every divergence named in docs/divergences.md (a suite installed without docs/ skips only this, and
says so); and, when the captures folder is beside the checkout, every capture
accounted for in contracts/captures.json. Without jsonschema nothing is
checked: :class:`CheckUnavailableError` says what to install.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from reranker_contracts import cassettes
from reranker_contracts.suite import (
    EXTENSION_TAG,
    OFF_MACHINE_TAG,
    SuiteError,
    case_files,
    extension_uses,
    off_machine_addresses,
    read_file,
)

INSTALL_HINT = (
    "jsonschema is not installed: pip install 'reranker-nvidia[contracts]' "
    "(from a checkout: pip install -e '.[contracts]')"
)


class CheckUnavailableError(Exception):
    """The suite cannot be checked here: jsonschema, which validates the case files, is missing."""


class _Validator(Protocol):
    def iter_errors(self, instance: Any) -> Iterable[Any]: ...


def _case_validator(suite: Path) -> _Validator:
    """contracts/case.schema.json's validator, built once per check."""
    try:
        import jsonschema  # noqa: PLC0415 - the contracts extra
    except ImportError:
        raise CheckUnavailableError(INSTALL_HINT) from None
    schema = read_file(suite / "case.schema.json")
    return jsonschema.Draft202012Validator(schema)


def _schema_problems(suite: Path, path: Path, data: Any, validator: _Validator) -> list[str]:
    return [
        f"{path.relative_to(suite)}: {'/'.join(str(p) for p in error.absolute_path) or '(file)'}: "
        f"{error.message[:300]}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]


def in_checkout(suite: Path) -> bool:
    """Whether the suite sits in a source checkout (beside pyproject.toml), not in a wheel."""
    return (suite.parent / "pyproject.toml").is_file()


def _divergence_ids(suite: Path) -> set[str] | None:
    """The D-ids of docs/divergences.md; None when the suite was installed without docs/."""
    document = suite.parent / "docs" / "divergences.md"
    if not document.is_file() and not in_checkout(suite):
        return None
    try:
        text = document.read_text(encoding="utf-8")
    except OSError as err:
        raise SuiteError(f"{document}: {err.strerror or err}") from None
    return set(re.findall(r"\bD-[A-Z0-9-]+[A-Z0-9]\b", text))


def captures_problems(suite: Path, ids: set[str], captures_dir: Path | None) -> list[str]:
    """Every capture file is behind a case (or excluded with a reason) in captures.json."""
    index_path = suite / "captures.json"
    if not index_path.is_file():
        return ["captures.json is missing"]
    index = json.loads(index_path.read_text(encoding="utf-8"))
    found: list[str] = []
    for name, entry in index.items():
        if name.startswith("$"):
            continue
        listed = entry.get("cases", [])
        if not listed and not entry.get("excluded"):
            found.append(f"captures.json: {name} has neither cases nor a reason to be excluded")
        for case_id in listed:
            if case_id not in ids:
                found.append(f"captures.json: {name} names an unknown case {case_id}")
    if captures_dir is not None and captures_dir.is_dir():
        for path in sorted(captures_dir.rglob("*")):
            relative = path.relative_to(captures_dir).as_posix()
            if path.is_file() and relative != "SOURCES.md" and relative not in index:
                found.append(f"captures.json: the capture {relative} is not accounted for")
    return found


def _extension_problems(case: dict[str, Any]) -> list[str]:
    """The tag ``extension`` on exactly the cases that need an extension; their timing fields."""
    found: list[str] = []
    case_id = case["id"]
    uses = extension_uses(case)
    tagged = EXTENSION_TAG in case.get("tags", [])
    if uses and not tagged:
        found.append(f"{case_id} uses {uses[0]} but is not tagged {EXTENSION_TAG}")
    if tagged and not uses:
        found.append(f"{case_id} is tagged {EXTENSION_TAG} but uses no extension")
    for alternative in ("expect", "go_expect"):
        expect = case.get(alternative) or {}
        requests = expect.get("requests") or case["expect"].get("requests") or []
        if "min_request_gap" in expect and len(requests) < 2:
            found.append(f"{case_id}: {alternative}.min_request_gap needs two expected requests")
        if expect.get("requests_in_order") and not requests:
            found.append(f"{case_id}: {alternative}.requests_in_order needs expected requests")
    return found


def _off_machine_problems(case: dict[str, Any]) -> list[str]:
    """The tag ``off-machine-address`` on exactly the cases that give such an address."""
    addresses = off_machine_addresses(case["kind"], case["input"])
    tagged = OFF_MACHINE_TAG in case.get("tags", [])
    if addresses and not tagged:
        return [
            f"{case['id']} gives the address {addresses[0]} but is not tagged {OFF_MACHINE_TAG}"
        ]
    if tagged and not addresses:
        return [f"{case['id']} is tagged {OFF_MACHINE_TAG} but gives only loopback addresses"]
    return []


DIVERGENCES_SKIPPED = (
    "divergence ids not cross-checked: docs/divergences.md is not installed with the suite"
)


def check_suite(
    suite: Path, captures_dir: Path | None = None, *, notes: list[str] | None = None
) -> list[str]:
    """Every problem found; an empty list means the suite is sound.

    ``notes`` receives what was not checked, and why (one line each).
    """
    found: list[str] = []
    cassette_dir = suite.parent / "cassettes"
    divergences = _divergence_ids(suite)
    if divergences is None and notes is not None:
        notes.append(DIVERGENCES_SKIPPED)
    ids: Counter[str] = Counter()
    used_cassettes: set[str] = set()
    validator = _case_validator(suite)
    files = case_files(suite)
    if not files:
        found.append("no case files under cases/valid or cases/invalid")
    for path in files:
        data = read_file(path)
        schema_problems = _schema_problems(suite, path, data, validator)
        found.extend(schema_problems)
        if schema_problems:
            continue
        name = path.relative_to(suite).as_posix()
        if data["area"] != path.stem:
            found.append(f"{name}: area {data['area']!r} differs from the file name")
        descriptions: Counter[str] = Counter()
        for case in data["cases"]:
            case_id, description = case["id"], case["description"]
            ids[case_id] += 1
            descriptions[description] += 1
            if case_id.split("/", 1)[0] != data["area"]:
                found.append(f"{name}: {case_id} is not prefixed by its area {data['area']}/")
            if "should" in description.lower().split():
                found.append(f"{name}: {case_id}: say what happens, not what 'should' happen")
            expects_error = "error" in case["expect"]
            if path.parent.name == "valid" and expects_error:
                found.append(f"{name}: {case_id} expects an error but sits with the valid cases")
            if path.parent.name == "invalid" and not expects_error:
                found.append(
                    f"{name}: {case_id} expects an outcome but sits with the invalid cases"
                )
            upstream = case.get("upstream", {})
            replies = upstream.get("replies")
            # A reply pairs with an expected request, or with one of Go's (go_expect.requests).
            paired = max(
                len(case["expect"].get("requests") or []),
                len((case.get("go_expect") or {}).get("requests") or []),
            )
            if replies is not None and paired < len(replies):
                found.append(f"{name}: {case_id}: each inline reply needs one expected request")
            found.extend(f"{name}: {problem}" for problem in _extension_problems(case))
            found.extend(f"{name}: {problem}" for problem in _off_machine_problems(case))
            cassette = upstream.get("cassette")
            if cassette is not None:
                used_cassettes.add(cassette)
                cassette_path = cassette_dir / f"{cassette}.yaml"
                if not cassette_path.is_file():
                    found.append(f"{name}: {case_id} names a missing cassette {cassette}")
            divergence = case.get("divergence")
            if divergence and divergences is not None and divergence["id"] not in divergences:
                found.append(f"{name}: {case_id}: {divergence['id']} is not in docs/divergences.md")
        for description, count in descriptions.items():
            if count > 1:
                found.append(f"{name}: the description {description!r} is used {count} times")
    for case_id, count in ids.items():
        if count > 1:
            found.append(f"the id {case_id} is used {count} times")
    if cassette_dir.is_dir():
        for path in sorted(cassette_dir.glob("*.yaml")):
            found.extend(cassettes.problems(path))
            if path.stem not in used_cassettes:
                found.append(f"cassettes/{path.name} is used by no case")
    found.extend(captures_problems(suite, set(ids), captures_dir))
    return found


def check_go_report(suite: Path, report_path: Path) -> tuple[list[str], int]:
    """Every ``go_expect`` judged on its own against a run of Go recorded with ``--json``.

    Returns the problems and the number of ``go_expect``s judged. The report is that of
    ``run --go-expect --impl <a Go adapter> --json FILE``; a case it lacks is a problem.
    """
    from reranker_contracts.runner import judge_go_expect  # noqa: PLC0415
    from reranker_contracts.suite import load_cases  # noqa: PLC0415

    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        entries = {entry["id"]: entry for entry in report["cases"]}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SuiteError(f"{report_path}: not a report of 'contracts run --json': {err}") from None
    found: list[str] = []
    judged = 0
    for case in load_cases(suite):
        if case.go_expect is None:
            continue
        judged += 1
        entry = entries.get(case.id)
        problems = (
            ["the report holds no outcome for it"]
            if not isinstance(entry, dict)
            else judge_go_expect(case, entry, suite.parent / "cassettes")
        )
        if problems:
            first = problems[0].splitlines()
            found.append(f"{case.id}: go_expect does not hold: {' '.join(first[:1])}")
            found.extend(f"    {line}" for problem in problems for line in problem.splitlines()[1:])
    return found, judged
