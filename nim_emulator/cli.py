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
from datetime import UTC, datetime
from pathlib import Path

from nim_emulator._cassette import Cassette, load_cassette
from nim_emulator._catalogue import DEFAULT_SELF_HOSTED_MODEL
from nim_emulator._config import (
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_LOG_BODY_LIMIT,
    ROUTE_PRESETS,
    ROUTES,
    SCORINGS,
    EmulatorConfig,
    nim_major,
)
from nim_emulator._server import loopback_warning, serve
from nim_emulator.exceptions import (
    CassetteError,
    EmulatorConfigError,
    EmulatorError,
    FaultSpecError,
)
from nim_emulator.faults import FAULT_GRAMMAR, FaultSpec

__all__ = ["config_from", "configure", "main", "run"]

DESCRIPTION = """\
Run a local NIM-compatible reranking emulator on loopback, for offline tests.
Routes: POST /v1/retrieval/nvidia/reranking, POST /v1/retrieval/nvidia/<model>/reranking,
POST /v1/ranking, POST /v1/rerank, GET /v1/models, GET /v1/health/{ready,live},
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


def _routes(value: str) -> frozenset[str]:
    groups = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(groups - set(ROUTES) - set(ROUTE_PRESETS))
    if unknown or not groups:
        raise argparse.ArgumentTypeError(
            f"route groups are some of {','.join((*ROUTES, *ROUTE_PRESETS))}, comma-separated, "
            f"not {value!r}"
        )
    return groups


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < number <= 3600:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most 3600 seconds, not {value}"
        )
    return number


def _positive(value: str) -> int:
    number = _count(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return number


def _version(value: str) -> str:
    if nim_major(value) is None:
        raise argparse.ArgumentTypeError(f"a NIM version looks like 1.3 or 2.4.0, not {value!r}")
    return value


def _model_value(value: str) -> tuple[str, str]:
    model, sep, header = value.partition("=")
    if not sep or not model or not header.strip() or not header.isprintable():
        raise argparse.ArgumentTypeError(f"expected MODEL=VALUE, not {value!r}")
    return model, header


def _model_date(value: str) -> tuple[str, datetime]:
    model, text = _model_value(value)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODEL=ISO-DATE, not {value!r}") from None
    return model, when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return number


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
        "slow-body=MS, accepted[=POLLS], deprecation=VALUE, ratelimit=N/W [retry-after=S]; "
        "options count=N (default: every "
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
    parser.add_argument(
        "--routes",
        type=_routes,
        metavar="GROUPS",
        help=f"only these route groups answer, comma-separated ({','.join(ROUTES)}); the "
        "others are 404 page not found (default: all). hosted-2026: NVIDIA's hosted catalogue "
        "as accounts meet it in 2026 (retired routes answer 404 'Not found for account')",
    )
    parser.add_argument(
        "--max-seq-len",
        type=_positive,
        metavar="N",
        help="a self-hosted NIM's NIM_PIPELINE_MAX_SEQ_LEN: the token limit of /v1/ranking's "
        "model, up to its maximum (default: the model's default, e.g. 10240 of Nemotron 3.5's "
        "32768)",
    )
    parser.add_argument(
        "--nim-version",
        type=_version,
        metavar="VERSION",
        help="the NIM version to play: a token overflow is 400 on 1.x, 422 on 2.x "
        "(default: by model)",
    )
    parser.add_argument(
        "--deprecation",
        type=_model_value,
        action="append",
        default=[],
        metavar="MODEL=VALUE",
        help="send 'Deprecation: VALUE' on MODEL's successful answers (repeatable)",
    )
    parser.add_argument(
        "--sunset",
        type=_model_value,
        action="append",
        default=[],
        metavar="MODEL=VALUE",
        help="send 'Sunset: VALUE' on MODEL's successful answers (repeatable)",
    )
    parser.add_argument(
        "--end-of-life",
        type=_model_date,
        action="append",
        default=[],
        metavar="MODEL=DATE",
        help="MODEL is retired from DATE (ISO 8601, UTC if no offset): 410 (repeatable)",
    )
    parser.add_argument(
        "--model-list-id",
        metavar="ID",
        help="the id GET /v1/models advertises (with root = the served model), as NIM 2.x may",
    )
    parser.add_argument(
        "--scoring",
        choices=SCORINGS,
        default="bm25",
        help="bm25: query-aware stand-in scores; hash: a cheap deterministic score per passage, "
        "for benchmarks (default: %(default)s)",
    )
    parser.add_argument(
        "--no-request-log",
        dest="log_requests",
        action="store_false",
        help="keep no request log (GET /_emulator/requests stays empty): for benchmarks",
    )
    parser.add_argument(
        "--max-logged",
        type=_count,
        metavar="N",
        help="keep only the last N requests in the log (default: all)",
    )
    parser.add_argument(
        "--log-body-limit",
        type=_count,
        default=DEFAULT_LOG_BODY_LIMIT,
        metavar="BYTES",
        help="keep at most BYTES of each request body in the log, with the size and SHA-256 "
        "of a longer one (default: %(default)s)",
    )
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=DEFAULT_HEADER_TIMEOUT_S,
        metavar="S",
        help="close a connection that has not sent a whole request head within S seconds "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive,
        metavar="N",
        help="answer 503 and close connections past N open at once (default: the descriptor "
        "limit less 64)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 1 if the server cannot run.

    Options that are valid one by one but not together (``--max-seq-len`` over
    the served model's maximum) are a usage error: one line, status 2.

    Warns on stderr when ``--host`` is not a loopback address; logs one line per
    request on stderr unless ``--quiet``.
    """
    try:
        config = config_from(args)
    except EmulatorConfigError as exc:  # options valid alone, not together: a usage error
        sys.stderr.write(f"error: {exc}\n")
        return 2
    try:
        warning = loopback_warning(args.host)
        if warning is not None:
            sys.stderr.write(warning + "\n")
        return serve(config, args.host, args.port, quiet=args.quiet)
    except EmulatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    """The :class:`EmulatorConfig` the parsed options describe (``EmulatorConfigError`` if bad)."""
    return EmulatorConfig(
        api_key=args.api_key,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        faults=list(args.fault),
        self_hosted_model=args.self_hosted_model,
        include_usage=args.usage,
        replay=args.replay,
        routes=args.routes,
        nim_version=args.nim_version,
        deprecation=dict(args.deprecation),
        sunset=dict(args.sunset),
        end_of_life=dict(args.end_of_life),
        model_list_id=args.model_list_id,
        scoring=args.scoring,
        log_requests=args.log_requests,
        max_logged=args.max_logged,
        pipeline_max_seq_len=args.max_seq_len,
        log_body_limit=args.log_body_limit,
        header_timeout_s=args.header_timeout,
        max_connections=args.max_connections,
    )


def main(argv: list[str] | None = None) -> int:
    """``nim-emulator``: the emulator as a command of its own."""
    parser = argparse.ArgumentParser(prog="nim-emulator")
    configure(parser)
    return run(parser.parse_args(argv))


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())
