"""``reranker-nvidia contracts``: check, run, adapter, record, schemas."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from reranker_nvidia.contracts_runner import record as recording
from reranker_nvidia.contracts_runner import schemas
from reranker_nvidia.contracts_runner.adapter import main as adapter_main
from reranker_nvidia.contracts_runner.check import check_suite
from reranker_nvidia.contracts_runner.runner import (
    CaseResult,
    Implementation,
    InProcess,
    Subprocess,
    emulator_upstream,
    report_json,
    run_cases,
    run_live,
    summary,
)
from reranker_nvidia.contracts_runner.suite import find_suite, load_cases, select

DESCRIPTION = """\
The language-neutral contract suite (contracts/README.md).

  check    validate the case files, cassettes and captures index
  run      run the cases against this port, or any implementation (--impl)
  adapter  this port behind the adapter protocol: a case on stdin, the outcome on stdout
  record   re-record the recordable cassettes against NVIDIA (needs NVIDIA_APIKEY)
  schemas  check or rewrite the wire JSON Schemas in contracts/schemas
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``contracts`` sub-commands."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="contracts_command", metavar="SUBCOMMAND", required=True)

    def suite_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--suite", type=Path, metavar="DIR", help="the contracts/ folder (found by default)"
        )

    check = sub.add_parser("check", help="validate the suite itself")
    suite_option(check)
    check.add_argument(
        "--captures",
        type=Path,
        metavar="DIR",
        help="captures to account for (default: ../shared/nim-captures beside the checkout)",
    )

    run = sub.add_parser(
        "run", help="run the cases", description="Run contract cases; see contracts/README.md."
    )
    suite_option(run)
    run.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="GLOB",
        help="only case ids matching (repeatable)",
    )
    run.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip case ids matching (repeatable)",
    )
    run.add_argument(
        "--impl",
        metavar="CMD",
        help="an adapter command to test (default: this port, in-process)",
    )
    run.add_argument("--json", action="store_true", help="print a machine-readable report")
    run.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds per case for --impl (default 30)",
    )
    run.add_argument(
        "--live",
        action="store_true",
        help="run the cases marked live against NVIDIA (needs NVIDIA_APIKEY)",
    )
    run.add_argument(
        "--allow-go",
        action="store_true",
        help="accept Go's outcome (go_expect) where the suite diverges from Go",
    )

    sub.add_parser("adapter", help="this port behind the adapter protocol")

    rec = sub.add_parser("record", help="re-record the recordable cassettes")
    suite_option(rec)
    rec.add_argument(
        "--cassette",
        action="append",
        default=[],
        metavar="NAME",
        help="only this cassette (repeatable)",
    )
    rec.add_argument(
        "--base-url", metavar="URL", help="record from here instead of NVIDIA (e.g. the emulator)"
    )
    rec.add_argument(
        "--out", type=Path, metavar="DIR", help="write here (default: the cassettes folder itself)"
    )

    sch = sub.add_parser("schemas", help="check or rewrite contracts/schemas")
    suite_option(sch)
    mode = sch.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when a schema is stale (default)")
    mode.add_argument("--write", action="store_true", help="rewrite the schemas")


def _default_captures(suite: Path) -> Path:
    return suite.parent.parent / "shared" / "nim-captures"


def _print_failure(result: CaseResult) -> None:
    print(f"FAIL {result.case.id}  ({result.case.file.name}: {result.case.description})")
    for problem in result.problems:
        for line in problem.splitlines():
            print(f"    {line}")


def run(args: argparse.Namespace) -> int:
    """Dispatch a ``contracts`` sub-command."""
    command = args.contracts_command
    if command == "adapter":
        return adapter_main()
    suite = find_suite(args.suite)
    if command == "check":
        captures = args.captures or _default_captures(suite)
        problems = check_suite(suite, captures)
        for problem in problems:
            print(problem)
        cases = load_cases(suite)
        if problems:
            print(f"{len(problems)} problem(s) in {len(cases)} cases")
            return 1
        print(f"{len(cases)} cases, the schema, cassettes and captures index: all sound")
        return 0
    if command == "schemas":
        directory = suite / "schemas"
        if args.write:
            for path in schemas.write(directory):
                print(f"wrote {path}")
            return 0
        stale = schemas.stale(directory)
        for name in stale:
            print(f"stale: {directory / name} (run: reranker-nvidia contracts schemas --write)")
        return 1 if stale else 0
    if command == "record":
        cassette_dir = suite.parent / "cassettes"
        written = recording.record(
            cassette_dir,
            args.out or cassette_dir,
            names=args.cassette,
            base_url=args.base_url,
            api_key=os.environ.get("NVIDIA_APIKEY") or ("recording-key" if args.base_url else None),
        )
        for path in written:
            print(f"recorded {path}")
        return 0
    return _run(args, suite)


def _run(args: argparse.Namespace, suite: Path) -> int:
    problems = check_suite(suite, None)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(
            f"error: the suite is not sound ({len(problems)} problem(s)); see 'contracts check'",
            file=sys.stderr,
        )
        return 1
    cases = select(load_cases(suite), args.cases, args.skip)
    implementation: Implementation = (
        Subprocess(args.impl, args.timeout) if args.impl else InProcess()
    )
    cassettes = suite.parent / "cassettes"
    if args.live:
        results = run_live(cases, implementation, os.environ.get("NVIDIA_APIKEY", ""))
    else:
        with emulator_upstream() as upstream:
            results = run_cases(cases, implementation, upstream, cassettes, allow_go=args.allow_go)
    if args.json:
        print(json.dumps(report_json(results, implementation), indent=2, ensure_ascii=False))
    else:
        for result in results:
            if result.status == "failed":
                _print_failure(result)
        print(f"{implementation.name}: {summary(results)}")
    return 1 if any(r.status == "failed" for r in results) else 0
