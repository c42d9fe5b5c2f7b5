"""The suite's command line: check, run, record.

``reranker-contracts`` runs it alone (an implementation is always given with
``--impl``); ``reranker-nvidia contracts`` is the same command with this
port handed in as the in-process implementation, plus the port's own
``adapter`` and ``schemas`` sub-commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from reranker_contracts import record as recording
from reranker_contracts.check import check_suite
from reranker_contracts.runner import (
    CaseResult,
    Implementation,
    Subprocess,
    emulator_upstream,
    report_json,
    run_cases,
    run_live,
    summary,
)
from reranker_contracts.suite import find_suite, load_cases, select

DESCRIPTION = """\
The language-neutral contract suite (contracts/README.md).

  check    validate the case files, cassettes and captures index
  run      run the cases against this port, or any implementation (--impl)
  record   re-record the recordable cassettes against NVIDIA (needs NVIDIA_APIKEY)
"""


SubParsers = argparse._SubParsersAction


def suite_option(parser: argparse.ArgumentParser) -> None:
    """``--suite DIR``: another copy of the suite than the one installed with the runner."""
    parser.add_argument(
        "--suite",
        type=Path,
        metavar="DIR",
        help="the contracts/ folder to use (default: the suite installed with this runner)",
    )


def configure(parser: argparse.ArgumentParser) -> SubParsers[argparse.ArgumentParser]:
    """Add the sub-commands; returns them, so a caller can add its own."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="contracts_command", metavar="SUBCOMMAND", required=True)

    check = sub.add_parser("check", help="validate the suite itself")
    suite_option(check)
    check.add_argument(
        "--captures",
        type=Path,
        metavar="DIR",
        help="captures to account for (default: the suite's own captures/ folder)",
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
    return sub


def _print_failure(result: CaseResult) -> None:
    print(f"FAIL {result.case.id}  ({result.case.file.name}: {result.case.description})")
    for problem in result.problems:
        for line in problem.splitlines():
            print(f"    {line}")


def run(args: argparse.Namespace, in_process: Implementation | None = None) -> int:
    """Dispatch a sub-command; ``in_process`` is the implementation ``run`` tests without --impl."""
    command = args.contracts_command
    suite = find_suite(args.suite)
    if command == "check":
        captures = args.captures or suite / "captures"
        problems = check_suite(suite, captures)
        for problem in problems:
            print(problem)
        cases = load_cases(suite)
        if problems:
            print(f"{len(problems)} problem(s) in {len(cases)} cases")
            return 1
        print(f"{len(cases)} cases, the schema, cassettes and captures index: all sound")
        return 0
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
    return _run(args, suite, in_process)


def _run(args: argparse.Namespace, suite: Path, in_process: Implementation | None) -> int:
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
    if args.impl:
        implementation: Implementation = Subprocess(args.impl, args.timeout)
    elif in_process is not None:
        implementation = in_process
    else:
        print("error: name the implementation to test: --impl CMD", file=sys.stderr)
        return 2
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


def main(argv: list[str] | None = None) -> int:
    """``reranker-contracts``: the suite on its own, for any implementation behind --impl."""
    parser = argparse.ArgumentParser(prog="reranker-contracts")
    configure(parser)
    return run(parser.parse_args(argv))


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())
