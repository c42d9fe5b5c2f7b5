"""The ``reranker-nvidia emulator`` command: its options (``configure``) and its body (``run``).

The main command line owns the parser; it calls
``configure(subparser)`` to add the options and ``run(args)`` to start the
server. Bad option values (a fault spec off the grammar, an unreadable
cassette, a negative latency) are usage errors: argparse prints the message
and exits with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nim_emulator._cassette import Cassette, load_cassette
from nim_emulator._catalogue import DEFAULT_SELF_HOSTED_MODEL
from nim_emulator._config import EmulatorConfig
from nim_emulator._server import loopback_warning, serve
from nim_emulator.exceptions import CassetteError, EmulatorError, FaultSpecError
from nim_emulator.faults import FAULT_GRAMMAR, FaultSpec

__all__ = ["configure", "main", "run"]

DESCRIPTION = """\
Run a local NIM-compatible reranking emulator on loopback, for offline tests.
Routes: POST /v1/retrieval/nvidia/reranking, POST /v1/retrieval/nvidia/<model>/reranking,
POST /v1/ranking, GET /v1/models, GET /v1/health/{ready,live},
GET /v2/nvcf/pexec/status/<reqid>; control routes under /_emulator/.
Scores are a deterministic stand-in, NOT NVIDIA's model. See docs/emulator.md."""

EPILOG = "fault grammar (--fault SPEC):\n" + FAULT_GRAMMAR


def _fault(value: str) -> FaultSpec:
    try:
        return FaultSpec.parse(value)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _milliseconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {value!r}") from None
    if not 0 <= number <= 3_600_000:
        raise argparse.ArgumentTypeError(f"must be 0-3600000 milliseconds, not {value}")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535, not {value}")
    return number


def _cassette(value: str) -> Cassette:
    try:
        return load_cassette(Path(value))
    except CassetteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _model(value: str) -> str:
    if not 1 <= len(value) <= 128:
        raise argparse.ArgumentTypeError("a model id has 1-128 characters")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options (and its description and fault-grammar epilog) to ``parser``."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; keep it on loopback)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="TCP port to listen on; 0 picks a free port (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="hosted routes answer 403 to any other bearer key (default: accept any key; "
        "a missing Authorization header is always 401; /v1/ranking never checks keys)",
    )
    parser.add_argument(
        "--latency-ms",
        type=_milliseconds,
        default=0.0,
        metavar="N",
        help="wait N milliseconds before every answer (default: 0)",
    )
    parser.add_argument(
        "--jitter-ms",
        type=_milliseconds,
        default=0.0,
        metavar="N",
        help="add a random 0..N milliseconds to every wait (default: 0)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help="arm a fault at start-up; repeat for several. SPEC is KEY[=VALUE] items joined by "
        "commas, one naming the fault: status=CODE [retry-after=S], latency=MS [jitter=MS], "
        "drop[=reset], drop-mid-body, malformed-json, "
        "indices=missing|duplicate|out-of-range|negative, unsorted[=ascending|index|shuffled], "
        "slow-body=MS, accepted[=POLLS], deprecation=VALUE; options count=N (default: every "
        "matching request) and path=GLOB (default: the reranking routes). "
        "Example: status=503,count=2,retry-after=10. Full grammar below.",
    )
    parser.add_argument(
        "--self-hosted-model",
        type=_model,
        default=DEFAULT_SELF_HOSTED_MODEL,
        metavar="ID",
        help="the one model POST /v1/ranking and GET /v1/models serve (default: %(default)s)",
    )
    parser.add_argument(
        "--usage",
        action="store_true",
        help='add the optional "usage" object to /v1/ranking answers',
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="log nothing per request (default: one line per request on stderr)",
    )
    parser.add_argument(
        "--replay",
        type=_cassette,
        metavar="CASSETTE",
        help="answer from this vcrpy cassette (YAML) instead of emulating: interactions are "
        "matched on method, path and body; an unexpected request gets a 599",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 1 if the server cannot run.

    Warns on stderr when ``--host`` is not a loopback address; logs one line per
    request on stderr unless ``--quiet``.
    """
    try:
        config = EmulatorConfig(
            api_key=args.api_key,
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            faults=list(args.fault),
            self_hosted_model=args.self_hosted_model,
            include_usage=args.usage,
            replay=args.replay,
        )
        warning = loopback_warning(args.host)
        if warning is not None:
            sys.stderr.write(warning + "\n")
        return serve(config, args.host, args.port, quiet=args.quiet)
    except EmulatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


def main(argv: list[str] | None = None) -> int:
    """``nim-emulator``: the emulator as a command of its own."""
    parser = argparse.ArgumentParser(prog="nim-emulator")
    configure(parser)
    return run(parser.parse_args(argv))


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())
