"""Entry point of the ``reranker-nvidia`` command (and ``python -m reranker_nvidia``)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from typing import TextIO

from reranker_nvidia import __version__
from reranker_nvidia.cli import models, rerank
from reranker_nvidia.cli.output import printable
from reranker_nvidia.errors import ModelDeprecationWarning, RerankerError

DESCRIPTION = """\
reranker-nvidia: Weaviate's reranker-nvidia module, ported to Python.

commands:
  rerank     rerank documents or Weaviate search results with an NVIDIA NIM model
  models     list the models a self-hosted NIM serves (GET /v1/models)
  bulk       score a long-form table of (query, passage) rows (docs/bulk.md)
  emulator   run the local NIM emulator (needs the 'emulator' extra)
  demo       rerank a bundled sample on the embedded emulator, offline
  contracts  check the contract suite, or run it against an implementation

Run 'reranker-nvidia COMMAND --help' for a command's options.

exit status: 0 success; 1 error, one line on stderr starting "error: " (and, when
the error knows what would fit, a second line starting "hint: "); 2 usage
error (a bare 'reranker-nvidia' too), the usage on stderr; 3 not reranked: the
service failed and --fail-open (--on-error input_order) printed the input order,
unscored, with a "warning: " line; 130 interrupted (Ctrl-C).
A model's announced end of life is one line on stderr starting "warning: ".
"""

USAGE = "%(prog)s [-h] [--version] COMMAND ..."

_EXTRA_HINT = (
    "needs the '{extra}' extra: pip install 'reranker-nvidia[{extra}]' "
    "(from a checkout: pip install -e '.[{extra}]')"
)


def one_line(message: str) -> str:
    """A message on one line, safe for a terminal: every control character escaped.

    Line breaks are written ``\\n`` and ``\\r``, an ESC ``\\x1b``, a BEL ``\\x07``, a
    bidirectional override ``\\u202e`` (:func:`~reranker_nvidia.cli.output.printable`): a
    server's error text cannot move the cursor, retitle the window or clear the screen.
    """
    return printable(message)


def error_and_hint(error: RerankerError) -> tuple[str, str | None]:
    """The ``error:`` line and the ``hint:`` line (or ``None``) of an error: one rule.

    The hint is ``err.hint`` (the cause's, for ``client rank: …``) and always
    has its own line: a message that ends with ``; <hint>`` (an ``endpoint`` or
    ``truncate`` set, D-EXT-ENDPOINT) is printed without it. A hint the message
    already says as its own words (a retired model's line) is not said twice.
    """
    message = str(error)
    hint = getattr(error, "hint", None)
    if hint is None:
        hint = getattr(getattr(error, "cause", None), "hint", None)
    if not isinstance(hint, str) or not hint:
        return message, None
    if message.endswith(f"; {hint}"):
        return message.removesuffix(f"; {hint}"), hint
    return message, None if hint in message else hint


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


COMMANDS = ("rerank", "models", "bulk", "emulator", "demo", "contracts")


def _selected(argv: Sequence[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((arg for arg in args if arg in COMMANDS), None)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reranker-nvidia",
        usage=USAGE,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # The description lists the commands; argparse's own list would repeat it.
    subparsers = parser.add_subparsers(
        dest="name", metavar="COMMAND", help=argparse.SUPPRESS, prog=parser.prog
    )
    rerank_parser = subparsers.add_parser("rerank", help="rerank documents or search results")
    rerank.configure(rerank_parser)
    rerank_parser.set_defaults(command=None, missing=None)
    models_parser = subparsers.add_parser("models", help="list the models a NIM serves")
    models.configure(models_parser)
    models_parser.set_defaults(command=None, missing=None)
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
    _optional(
        subparsers,
        "bulk",
        "score a long-form table of (query, passage) rows",
        "reranker_nvidia.cli.bulk",
        "parquet",
        selected=selected,
    )
    return parser


def _command_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The parser of the innermost command chosen (``contracts run``), else the top level."""
    current = parser
    while True:
        chosen = next(
            (
                action.choices[name]
                for action in current._actions
                if isinstance(action, argparse._SubParsersAction)
                and (name := getattr(args, action.dest, None)) in action.choices
            ),
            None,
        )
        if chosen is None:
            return current
        current = chosen


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line; returns the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser(_selected(argv))
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "missing", None):
        # The command's own usage line, not the top level's, for the command's flags.
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.name is None:
        parser.error(f"a command is required: {', '.join(COMMANDS[:-1])} or {COMMANDS[-1]}")
    if args.missing:
        err.write(f"error: {args.name} {args.missing}\n")
        return 1
    try:
        with _warnings_as_lines(err):
            if args.name == "rerank":
                _sending.set()
                try:
                    return rerank.run(args, stdout=out, stderr=err)
                finally:
                    _sending.clear()
            if args.name == "models":
                return models.run(args, stdout=out, stderr=err)
            status: int = args.command(args)
            return status
    except RerankerError as error:
        message, hint = error_and_hint(error)
        err.write(f"error: {one_line(message)}\n")
        if hint is not None:
            err.write(f"hint: {one_line(hint)}\n")
        return 1
    except KeyboardInterrupt:
        _report_interrupt(err)
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


@contextlib.contextmanager
def _warnings_as_lines(err: TextIO) -> Iterator[None]:
    """Each distinct warning of the run as one ``warning: …`` line on stderr, no source line.

    A :class:`~reranker_nvidia.errors.ModelDeprecationWarning` (the library gives
    one per model) is the one that matters; the lines come once the run ends, before
    its error line if it fails.
    """
    with warnings.catch_warnings(record=True) as caught:
        # The library gives one per model; any other warning keeps the filters in force
        # (Python's defaults hide DeprecationWarning), and is shown on one line too.
        warnings.simplefilter("always", ModelDeprecationWarning)
        try:
            yield
        finally:
            shown: set[str] = set()
            for warning in caught:
                text = one_line(str(warning.message))
                if text not in shown:
                    shown.add(text)
                    err.write(f"warning: {text}\n")


INTERRUPTED = "error: interrupted\n"
STOP_GRACE_S = 0.5
"""How long Ctrl-C waits for the run to unwind before the process ends regardless."""

# Set while ``rerank`` runs: then Ctrl-C ends the process in the signal handler itself, so no
# worker thread can send another chunk while the run unwinds (nothing is on stdout until the
# end, so nothing is lost).
_sending = threading.Event()
_interrupt_lock = threading.Lock()
_interrupt_reported = False
_interrupts = 0


def _report_interrupt(err: TextIO) -> None:
    """Write the interrupt's one line: once per Ctrl-C'd console process, else every time."""
    global _interrupt_reported  # noqa: PLW0603 - one process, one report
    with _interrupt_lock:
        if _interrupts and _interrupt_reported:
            return  # the unwinding run and the watchdog both got here
        err.write(INTERRUPTED)
        err.flush()
        _interrupt_reported = True


def _exit_now(status: int) -> None:
    """End the process without waiting for threads still blocked on an answer."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def _interrupted_at_once() -> None:
    with contextlib.suppress(OSError, ValueError):
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K")  # the progress line, if one is shown
    _report_interrupt(sys.stderr)
    _exit_now(130)


def _on_sigint(signum: int, frame: object) -> None:
    """Ctrl-C: unwind (KeyboardInterrupt), and end the process if unwinding has to wait."""
    global _interrupts  # noqa: PLW0603 - one process, one count
    _interrupts += 1
    if _interrupts > 1 or _sending.is_set():  # a second Ctrl-C, or requests being sent
        _interrupted_at_once()
    watchdog = threading.Timer(STOP_GRACE_S, _interrupted_at_once)
    watchdog.daemon = True
    watchdog.start()
    raise KeyboardInterrupt


def run() -> None:
    """Console-script entry point.

    Ctrl-C ends the command at once with status 130 and one line on stderr:
    requests in flight are abandoned, not awaited, and none is sent after it.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="backslashreplace")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        status = main()
    except KeyboardInterrupt:
        _report_interrupt(sys.stderr)
        status = 130
    if status == 130:
        _exit_now(130)
    sys.exit(status)
