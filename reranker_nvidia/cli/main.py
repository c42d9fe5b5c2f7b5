"""Entry point of the ``reranker-nvidia`` command (and ``python -m reranker_nvidia``)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from reranker_nvidia import __version__
from reranker_nvidia.cli import rerank
from reranker_nvidia.errors import RerankerError

DESCRIPTION = """\
reranker-nvidia: Weaviate's reranker-nvidia module, ported to Python.

commands:
  rerank     rerank documents or Weaviate search results with an NVIDIA NIM model
  emulator   run the local NIM emulator (needs the 'emulator' extra)
  demo       rerank a bundled sample on the embedded emulator, offline
  contracts  check the contract suite, or run it against an implementation

Run 'reranker-nvidia COMMAND --help' for a command's options.
"""

_EXTRA_HINT = "needs the '{extra}' extra: pip install 'reranker-nvidia[{extra}]'"


def one_line(message: str) -> str:
    """A message on one line: newlines and carriage returns written as \\n and \\r."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def _optional(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    module: str,
    extra: str,
    *,
    selected: str | None,
) -> None:
    """A command whose code needs an extra; without it, the command says which to install.

    Its module is imported only when it is the command being run, so one
    command never pays for another's imports (the contract adapter runs once
    per case).
    """
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    if selected != name:
        return
    try:
        command = importlib.import_module(module)
    except ImportError:
        # Its options are unknown: main() lets anything through and reports the extra.
        parser.set_defaults(missing=_EXTRA_HINT.format(extra=extra))
        return
    command.configure(parser)
    parser.set_defaults(command=command.run, missing=None)


COMMANDS = ("rerank", "emulator", "demo", "contracts")


def _selected(argv: Sequence[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((arg for arg in args if arg in COMMANDS), None)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reranker-nvidia",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="name", metavar="COMMAND")
    rerank_parser = subparsers.add_parser("rerank", help="rerank documents or search results")
    rerank.configure(rerank_parser)
    rerank_parser.set_defaults(command=None, missing=None)
    _optional(
        subparsers,
        "emulator",
        "run the local NIM emulator",
        "nim_emulator.cli",
        "emulator",
        selected=selected,
    )
    _optional(
        subparsers,
        "demo",
        "rerank a bundled sample on the embedded emulator, offline",
        "reranker_nvidia.cli.demo",
        "emulator",
        selected=selected,
    )
    _optional(
        subparsers,
        "contracts",
        "check the contract suite, or run it against an implementation",
        "reranker_nvidia.cli.contracts",
        "contracts",
        selected=selected,
    )
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line; returns the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser(_selected(argv))
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "missing", None):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.name is None:
        parser.print_help(out)
        return 2
    if args.missing:
        err.write(f"error: {args.name} {args.missing}\n")
        return 1
    try:
        if args.name == "rerank":
            return rerank.run(args, stdout=out, stderr=err)
        status: int = args.command(args)
        return status
    except RerankerError as error:
        err.write(f"error: {one_line(str(error))}\n")
        return 1
    except KeyboardInterrupt:
        err.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as error:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("RERANKER_NVIDIA_DEBUG"):
            traceback.print_exc(file=err)
        err.write(
            f"error: internal error ({type(error).__name__}): {one_line(str(error))}; "
            "set RERANKER_NVIDIA_DEBUG=1 for a traceback\n"
        )
        return 1


def run() -> None:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="backslashreplace")
    sys.exit(main())
