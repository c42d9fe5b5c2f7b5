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
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # imported when a command runs: the adapter sub-command needs none of it
    from reranker_contracts.runner import CaseResult, Implementation
    from reranker_contracts.suite import Case

DESCRIPTION = """\
The language-neutral contract suite (contracts/README.md).

  check    validate the case files, cassettes and captures index
  run      run the cases against this port, or any implementation (--impl)
  record   re-record the recordable cassettes against NVIDIA (needs NVIDIA_APIKEY)
"""


RUN_DESCRIPTION = """\
Run contract cases (contracts/README.md, "The runner, step by step").

Each job has its own NIM emulator on 127.0.0.1; results are printed in suite
order. The exit status is 0 when no case failed, 1 when one did, 2 for a
usage error or an implementation that cannot start.

  reranker-contracts run --impl './my-adapter'
  reranker-contracts run --persistent --impl './my-adapter --persistent' --jobs 4
  reranker-contracts run --impl './my-adapter' --skip-tag go-stdlib-text --json report.json
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
    check.add_argument(
        "--go-report",
        type=Path,
        metavar="FILE",
        help="also judge every go_expect on its own against a run of the Go module recorded "
        "with 'run --go-expect --json FILE'",
    )

    run = sub.add_parser(
        "run",
        help="run the cases",
        description=RUN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    suite_option(run)
    run.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="GLOB",
        help="only case ids matching (repeatable); a GLOB that matches no case is an error",
    )
    run.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out case ids matching (repeatable)",
    )
    run.add_argument(
        "--skip-tag",
        action="append",
        default=[],
        metavar="TAG",
        help="skip the cases carrying TAG (repeatable; the tags are listed in contracts/README.md, "
        "e.g. go-stdlib-text, go-json-escaping, extension); they count as skipped",
    )
    run.add_argument(
        "--impl",
        metavar="CMD",
        help="an adapter command to test (default: this port, in-process); without "
        "--persistent it runs once per case: the case on stdin, the outcome on stdout",
    )
    run.add_argument(
        "--persistent",
        action="store_true",
        help="with --impl: start the adapter once per job and send it one case per line "
        '({"kind", "input", "env"}), one outcome per line back',
    )
    run.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="run N cases at a time, each job with its own emulator (default: the CPU count; "
        "1 runs them one after the other; an in-process implementation always uses one)",
    )
    run.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="also write a machine-readable report to FILE; '-' (or no FILE) writes it to "
        "stdout, and the readable report then goes to stderr",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds per case for --impl (default 30); past them the case fails, and a "
        "persistent adapter is restarted",
    )
    run.add_argument(
        "--live",
        action="store_true",
        help="run the cases marked live against NVIDIA (needs NVIDIA_APIKEY)",
    )
    run.add_argument(
        "--allow-go",
        action="store_true",
        help="accept Go's outcome and requests (go_expect) where the suite diverges from Go; "
        "cases with go_skip are skipped, each with a SKIP line",
    )
    run.add_argument(
        "--go-expect",
        action="store_true",
        help="judge every case that has a go_expect by go_expect alone (outcome and requests), "
        "as if it were the expect: run against Go, this checks each go_expect on its own; "
        "cases with go_skip are skipped, as with --allow-go",
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


# What the contracts extra brings: without one of them, the command says what to install.
EXTRA_MODULES = frozenset({"nim_emulator", "starlette", "uvicorn", "yaml", "jsonschema"})
INSTALL_EXTRA = (
    "pip install 'reranker-nvidia[contracts]' (from a checkout: pip install -e '.[contracts]')"
)


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _one_line(message: object) -> str:
    return str(message).replace("\r", "\\r").replace("\n", "\\n")


def _print_failure(result: CaseResult, out: TextIO) -> None:
    print(f"FAIL {result.case.id}  ({result.case.file.name}: {result.case.description})", file=out)
    for problem in result.problems:
        for line in problem.splitlines():
            print(f"    {line}", file=out)


def run(args: argparse.Namespace, in_process: Implementation | None = None) -> int:
    """Dispatch a sub-command; ``in_process`` is the implementation ``run`` tests without --impl.

    A user's mistake (a bad ``--suite``, an unreadable case file, a ``--cases``
    that matches nothing, an adapter that cannot start) is one ``error:`` line
    on stderr and exit status 1, or 2 for a usage error.
    """
    from reranker_contracts.cassettes import CassetteFileError  # noqa: PLC0415
    from reranker_contracts.check import CheckUnavailableError  # noqa: PLC0415
    from reranker_contracts.implementations import ImplementationStartError  # noqa: PLC0415
    from reranker_contracts.record import RecordError  # noqa: PLC0415
    from reranker_contracts.suite import SuiteError  # noqa: PLC0415

    try:
        return _dispatch(args, in_process)
    except UsageError as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except ImplementationStartError as err:
        print(f"error: the implementation cannot start: {_one_line(err)}", file=sys.stderr)
        return 2
    except (SuiteError, RecordError, CassetteFileError, CheckUnavailableError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as err:
        missing = (err.name or "").split(".", 1)[0]
        if missing not in EXTRA_MODULES:
            raise
        print(f"error: {missing} is not installed: {INSTALL_EXTRA}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, in_process: Implementation | None) -> int:
    from reranker_contracts.suite import find_suite, load_cases  # noqa: PLC0415

    command = args.contracts_command
    suite = find_suite(args.suite)
    if command == "check":
        from reranker_contracts.check import check_suite  # noqa: PLC0415

        captures = args.captures or suite / "captures"
        notes: list[str] = []
        problems = check_suite(suite, captures, notes=notes)
        for note in notes:
            print(f"note: {note}")
        for problem in problems:
            print(problem)
        cases = load_cases(suite)
        if problems:
            print(f"{len(problems)} problem(s) in {len(cases)} cases")
            return 1
        print(f"{len(cases)} cases, the schema, cassettes and captures index: all sound")
        if args.go_report is not None:
            from reranker_contracts.check import check_go_report  # noqa: PLC0415

            go_problems, judged = check_go_report(suite, args.go_report)
            for problem in go_problems:
                print(problem)
            failing = sum(not line.startswith(" ") for line in go_problems)
            print(f"{judged - failing} of {judged} go_expect(s) hold for {args.go_report}")
            return 1 if go_problems else 0
        return 0
    if command == "record":
        from reranker_contracts import record as recording  # noqa: PLC0415

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


def _select(args: argparse.Namespace, suite: Path) -> list[Case]:
    from reranker_contracts.suite import allowed_tags, load_cases, select, unmatched  # noqa: PLC0415

    cases = load_cases(suite)
    missing = unmatched(cases, args.cases)
    if missing:
        raise UsageError(
            "--cases " + ", ".join(repr(m) for m in missing) + " matches no case "
            "(ids look like 'errors/500-empty-body'; globs use * and ?)"
        )
    tags = allowed_tags(suite)
    unknown = [tag for tag in args.skip_tag if tag not in tags]
    if unknown:
        known = ", ".join(tags) or "none"
        raise UsageError(f"--skip-tag {', '.join(unknown)}: unknown tag (known tags: {known})")
    return select(cases, args.cases, args.skip)


def _implementation(args: argparse.Namespace, in_process: Implementation | None) -> Implementation:
    from reranker_contracts.implementations import Persistent, Subprocess  # noqa: PLC0415

    if args.persistent and not args.impl:
        raise UsageError("--persistent needs --impl CMD (the adapter to keep running)")
    if args.impl:
        try:
            if args.persistent:
                return Persistent(args.impl, args.timeout)
            return Subprocess(args.impl, args.timeout)
        except ValueError as err:
            raise UsageError(str(err)) from None
    if in_process is None:
        raise UsageError("name the implementation to test: --impl CMD")
    return in_process


def _run(args: argparse.Namespace, suite: Path, in_process: Implementation | None) -> int:
    from reranker_contracts.check import CheckUnavailableError, check_suite  # noqa: PLC0415
    from reranker_contracts.runner import (  # noqa: PLC0415
        report_json,
        run_live,
        run_suite,
        summary,
    )

    try:
        problems = check_suite(suite, None)
    except CheckUnavailableError as err:
        print(f"note: {err}; running the cases unvalidated", file=sys.stderr)
        problems = []
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(
            f"error: the suite is not sound ({len(problems)} problem(s)); see 'contracts check'",
            file=sys.stderr,
        )
        return 1
    cases = _select(args, suite)
    implementation = _implementation(args, in_process)
    # With the report on stdout, the readable report goes to stderr.
    out = sys.stderr if args.json == "-" else sys.stdout

    isolation_skips: list[CaseResult] = []

    def show(result: CaseResult) -> None:
        if result.status == "failed":
            _print_failure(result, out)
        elif result.status == "skipped" and result.skipped_for == "go_skip":
            print(f"SKIP {result.case.id}: {_one_line(result.case.go_skip)}", file=out)
        elif result.status == "skipped" and result.skipped_for == "isolation":
            isolation_skips.append(result)
        out.flush()

    try:
        if args.live:
            results = run_live(cases, implementation, os.environ.get("NVIDIA_APIKEY", ""))
            for result in results:
                show(result)
        else:
            results = run_suite(
                cases,
                implementation,
                suite.parent / "cassettes",
                jobs=args.jobs,
                allow_go=args.allow_go,
                go_expect_only=args.go_expect,
                skip_tags=args.skip_tag,
                on_result=show,
            )
    finally:
        close = getattr(implementation, "close", None)
        if callable(close) and implementation is not in_process:
            close()
    if args.json is not None:
        text = json.dumps(report_json(results, implementation), indent=2, ensure_ascii=False)
        if args.json == "-":
            print(text)
        else:
            try:
                Path(args.json).write_text(text + "\n", encoding="utf-8")
            except OSError as err:
                print(f"error: cannot write {args.json}: {err.strerror or err}", file=sys.stderr)
                return 1
    if isolation_skips:
        why = isolation_skips[0].problems[0].rsplit("made here: ", 1)[-1]
        print(
            f"note: {len(isolation_skips)} case(s) skipped: they give the implementation "
            "addresses off this machine, and run only in a loopback-only network namespace, "
            f"which cannot be made here ({why})",
            file=out,
        )
    print(f"{implementation.name}: {summary(results)}", file=out)
    return 1 if any(r.status == "failed" for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    """``reranker-contracts``: the suite on its own, for any implementation behind --impl."""
    parser = argparse.ArgumentParser(prog="reranker-contracts")
    configure(parser)
    return run(parser.parse_args(argv))


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())
