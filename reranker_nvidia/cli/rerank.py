"""``reranker-nvidia rerank``: rerank documents or search results exactly as Weaviate would."""

from __future__ import annotations

import argparse
import contextlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from reranker_nvidia.cli.inputs import (
    InputError,
    property_fault,
    read_bytes,
    read_lines,
    read_numbered_objects,
)
from reranker_nvidia.cli.output import (
    Progress,
    format_score,
    json_text,
    logged_warnings,
    table,
    usage_line,
    usage_object,
)
from reranker_nvidia.clients.ranker import Client, HeaderSource
from reranker_nvidia.config.class_settings import NAME
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.errors import RerankerError
from reranker_nvidia.extensions.ranked import ranked
from reranker_nvidia.extensions.settings import (
    SETTINGS,
    Setting,
    checked_class_settings,
    setting,
)
from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.modulecomponents.additional.rank.rank_result import PROPERTY_RERANK
from reranker_nvidia.modulecomponents.ent.rank_result import RankResult
from reranker_nvidia.usecases.config.environment import module_http_client_timeout_from_environment
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig

DESCRIPTION = """\
Rerank documents against a query with an NVIDIA NIM reranking model, with
exactly the semantics of Weaviate's reranker-nvidia module.

Without --property the input is text, one document per line, and the output
lists every document with its score. With --property the input is JSON Lines,
one Weaviate search result per line (properties at the top level, optional
"_additional" object); each object's document is that property's value when it
is a string, else "" (Weaviate's rule), and the objects come back reordered,
each with "_additional": {"rerank": [{"score": s}]}. If no result has the
property as a string, nothing is sent: that is an error.

Blank lines (empty or only white space) are not documents, in text as in JSON
Lines: they are skipped, and the "line" reported for each document is its line
in the input, numbered from 1. JSON output is strict JSON: numbers too large
for a 64-bit float (1e400) are refused at input, as NaN and Infinity are.

Results are sorted by score, highest first; equal scores keep input order.
--top N keeps only the N best.

Scores are on the model's scale: raw logits (any real number, higher is more
relevant; NIM's retrieval, model and ranking routes), or, with --endpoint
rerank, the gateway's 0-1 relevance_score. --score-transform sigmoid or
nvidia-rag maps each score to 0-1 with a fixed function (never per query), and
--min-score X drops what scores below X on that same scale, after the sort, on
every input path.

--fail-open (--on-error input_order): when the service fails, the documents
are printed in their input order with an empty score (JSON: null; with
--property, no "rerank" entry), one "warning:" line says why on stderr, and
the exit status is 3.

--image-property NAME reads JSON Lines too: each object's passage is its
--property text (if given) and the image in field NAME, a base64 data: URL
(PNG or JPEG), for NVIDIA's vision-language rerankers.

The extensions below are each off by default, so the defaults are Weaviate's;
each flag is the class setting it names, as --model is. A bad value is one
error line before anything is read or sent.
"""

EPILOG = """\
environment:
  NVIDIA_APIKEY              the API key (an X-Nvidia-Api-Key --header wins over it)
  MODULES_CLIENT_TIMEOUT     request timeout as a Go duration (50s, 1m30s, 500ms);
                             --timeout wins over it; default 50s
  MODULES_VALIDATE_BASE_URL  true/on/enabled/1: refuse internal addresses and
                             validate an X-Nvidia-Baseurl header (SSRF checks)

exit status: 0 success, 1 error (one line on stderr, nothing on stdout), 2 usage,
  3 not reranked (--fail-open: the input order printed, unscored, and a warning line),
  130 interrupted (Ctrl-C stops at once: no further request is sent).

examples:
  reranker-nvidia rerank --query "library hours" --input docs.txt --output json
      (prints {"query": …, "results": [{"index": i, "line": n, "score": s,
      "document": …}, …]}: "index" counts documents from 0, "line" input lines from 1)
  reranker-nvidia rerank --query "Who wrote Dune?" --property description \\
      --input results.jsonl --base-url http://127.0.0.1:8000 --output json
  reranker-nvidia rerank --query "library hours" --input docs.txt \\
      --base-url http://127.0.0.1:8000 --endpoint ranking --wait-ready 300
      (a self-hosted NIM, once it has loaded its model)
  reranker-nvidia rerank --query "library hours" --input docs.txt \\
      --score-transform sigmoid --min-score 0.5 --fail-open
      (0-1 scores, those below 0.5 dropped; the input order if the service fails)
"""

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def header_argument(text: str) -> tuple[str, str]:
    """``'Name: value'`` → ``(name, value)``; argparse turns a ValueError into a usage error."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not _HEADER_NAME.match(name):
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name, value.strip(" \t")


NOT_RERANKED = 3
"""The exit status of a run that failed open (D-EXT-FAIL-OPEN): the input order, unscored."""

NIM_MAX_PASSAGES = 512
"""The most passages a NIM reranking endpoint takes in one request."""


def query_text(text: str) -> str:
    """A query with something in it: NIM ranks nothing against an empty one."""
    if text.strip() == "":
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def documents_per_request(text: str) -> int:
    value = positive_int(text)
    if value > NIM_MAX_PASSAGES:
        raise argparse.ArgumentTypeError(
            f"must be at most {NIM_MAX_PASSAGES} (NIM refuses more passages per request), "
            f"got {value}"
        )
    return value


def positive_int(text: str) -> int:
    return _whole_number_from(text, 1, "must be at least 1")


def whole_number(text: str) -> int:
    """A whole number, 0 or more."""
    return _whole_number_from(text, 0, "must be 0 or more")


def _whole_number_from(text: str, lowest: int, too_low: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"{too_low}, got {value}")
    return value


def positive_number(text: str) -> float:
    """A finite number greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {text}")
    return value


def finite_number(text: str) -> float:
    """Any finite number (a score threshold may be negative: logits are)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (no timeout) or more seconds, got {text}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``rerank``'s options."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--query",
        required=True,
        type=query_text,
        metavar="TEXT",
        help="the query to rank against (not empty)",
    )
    parser.add_argument(
        "--input",
        default="-",
        metavar="FILE|-",
        help="where to read from; '-' (the default) is standard input",
    )
    parser.add_argument(
        "--property",
        metavar="NAME",
        help="read JSON Lines search results and rank by this property (Weaviate's rerank)",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        type=header_argument,
        metavar="'Name: value'",
        help="a request header as Weaviate would receive it, e.g. 'X-Nvidia-Api-Key: …' or "
        "'X-Nvidia-Baseurl: https://…' (repeatable; names ignore letter case)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help="per request, covering resends and the body; 0 means none "
        "(default: MODULES_CLIENT_TIMEOUT, else 50)",
    )
    parser.add_argument(
        "--output",
        choices=("table", "json"),
        default="table",
        help="'table' for people (default), 'json' for programs",
    )
    parser.add_argument(
        "--top",
        type=positive_int,
        metavar="N",
        help="print only the N best results (default: every one)",
    )
    parser.add_argument(
        "--image-property",
        metavar="NAME",
        help="read JSON Lines; each passage's image is field NAME, a base64 data: URL "
        "(off by default)",
    )
    extensions = parser.add_argument_group(
        "extensions", "each off by default (Go's behaviour), each also a class setting"
    )
    add_setting_flags(extensions, fields=parser)
    add_fail_open_flag(extensions)


PARSERS: dict[str, Callable[[str], Any]] = {
    "text": str,
    "whole": whole_number,
    "at-least-1": positive_int,
    "per-request": documents_per_request,
    "positive": positive_number,
    "number": finite_number,
}
"""How the command line reads each kind of setting (``Setting.cli_type``)."""


def flag_dest(row: Setting) -> str:
    """The ``argparse`` attribute of a setting's flag (``--rpm``: ``rpm``)."""
    return row.flag.removeprefix("--").replace("-", "_")


def add_setting_flags(
    group: argparse._ActionsContainer, *, fields: argparse._ActionsContainer | None = None
) -> None:
    """One flag per row of the settings table; the client's own fields, and Go's two class
    settings (``--base-url``, ``--model``), go to ``fields``. A flag the command declares
    itself is left to it."""
    for row in SETTINGS:
        if row.flag in group._option_string_actions:
            continue
        own = row.client_field or row.go_key
        help_text = f"class setting '{row.key}': {row.help}"
        if row.cli_type == "flag":  # no value: given means true; not given, not set
            group.add_argument(row.flag, action="store_const", const=True, help=help_text)
            continue
        (fields if own and fields is not None else group).add_argument(
            row.flag,
            type=PARSERS[row.cli_type],
            default=row.default if row.client_field and row.default is not None else None,
            metavar=row.metavar,
            help=row.help if row.client_field else help_text,
        )


def add_fail_open_flag(group: argparse._ActionsContainer) -> None:
    """``--fail-open``: the shorthand of ``--on-error input_order`` (D-EXT-FAIL-OPEN)."""
    group.add_argument(
        "--fail-open",
        dest=flag_dest(setting("on_error")),
        action="store_const",
        const="input_order",
        help="the same as --on-error input_order: on a service error, the input order, "
        f"unscored, a warning line, and exit status {NOT_RERANKED}",
    )


def setting_values(args: argparse.Namespace) -> dict[str, Any]:
    """The table's settings beyond Go's given on the command line, by keyword name.

    Go's own, ``--base-url`` and ``--model`` (``args.base_url``, ``args.model``),
    are class settings each command passes itself.
    """
    values = {row.name: getattr(args, flag_dest(row), None) for row in SETTINGS if not row.go_key}
    return {name: value for name, value in values.items() if value is not None}


def _class_config(args: argparse.Namespace) -> ClassConfig:
    settings: dict[str, Any] = {}
    if args.model is not None:
        settings["model"] = args.model
    if args.base_url is not None:
        settings["baseURL"] = args.base_url
    given = setting_values(args)
    for row in SETTINGS:  # the extension flags are class settings, as --model is
        if not row.client_field and row.name in given:
            settings[row.key] = given[row.name]
    cfg = ClassBasedModuleConfig.for_settings(NAME, settings)
    checked_class_settings(cfg)  # a bad setting is a ConfigError now, before any input is read
    return cfg


@dataclass(slots=True)
class _ProgressClient:
    """The client, reporting progress: what the rerank property calls."""

    client: Client
    progress: Progress
    results: list[RankResult]
    """Every result returned, so the command can tell one that was not reranked."""

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        cfg: ClassConfig | None = None,
        *,
        headers: HeaderSource = None,
    ) -> RankResult:
        result = self.client.rank(query, documents, cfg, headers=headers, on_progress=self.progress)
        self.results.append(result)
        return result


def _dump(value: Any) -> str:
    """Strict JSON, safe for a terminal: the input refuses non-finite numbers."""
    return json_text(value)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Rerank; raises RerankerError for the caller to report. Writes only once all succeeded."""
    timeout = (
        args.timeout if args.timeout is not None else module_http_client_timeout_from_environment()
    )
    cfg = _class_config(args)
    data = read_bytes(args.input, notice=stderr)
    headers: list[tuple[str, str]] = args.header
    progress = Progress(stderr)
    with (
        Client(
            None, timeout, max_documents=args.max_documents, max_concurrency=args.max_concurrency
        ) as client,
        logged_warnings() as warned,
    ):
        job = _Job(client, args, cfg, headers, _ProgressClient(client, progress, []))
        try:
            if args.image_property is not None:
                text = _rerank_passages(job, data)
            elif args.property is not None:
                text = _rerank_objects(job, data)
            else:
                text = _rerank_lines(job, data)
        finally:
            progress.clear()
            warned.write(stderr)  # D-EXT-FAIL-OPEN: the one warning line of a call failed open
    if text is None:
        stderr.write("nothing to rerank: the input holds no documents\n")
    elif text:
        stdout.write(text)
    _write_usage(job, stderr)
    return NOT_RERANKED if any(not r.reranked for r in job.ranker.results) else 0


def _write_usage(job: _Job, stderr: TextIO) -> None:
    """``--usage``: one footer line on stderr, unless ``--output json`` carried it already."""
    if not job.args.usage or (job.args.output == "json" and _carries_usage(job.args)):
        return
    for result in job.ranker.results:
        if result.usage is not None:
            stderr.write(usage_line(result.usage) + "\n")


def _carries_usage(args: argparse.Namespace) -> bool:
    """Whether the output is one JSON object (plain lines in), which holds ``usage``."""
    return args.property is None and args.image_property is None


@dataclass(frozen=True, slots=True)
class _Job:
    client: Client
    args: argparse.Namespace
    cfg: ClassConfig
    headers: HeaderSource
    ranker: _ProgressClient
    """The client, reporting progress and keeping each result."""


_NAMED_DOCUMENTS = re.compile(r"\((documents?) (\d+(?:, \d+)*)((?:, … \(\d+ in all\))?)\)")


@contextlib.contextmanager
def _naming_input_lines(numbers: Sequence[int]) -> Iterator[None]:
    """An error naming the caller's documents names their input lines too.

    ``(document 600)`` becomes ``(document 600, input line 604)``; ``numbers[i]``
    is the input line of document ``i``.
    """

    def with_lines(found: re.Match[str]) -> str:
        indices = [int(index) for index in found.group(2).split(", ")]
        if not all(0 <= index < len(numbers) for index in indices):
            return found.group()
        shown = ", ".join(str(numbers[index]) for index in indices)
        which = "input line" if len(indices) == 1 else "input lines"
        return f"({found.group(1)} {found.group(2)}, {which} {shown}{found.group(3)})"

    try:
        yield
    except RerankerError as err:
        if err.args and isinstance(err.args[0], str):
            err.args = (_NAMED_DOCUMENTS.sub(with_lines, err.args[0]), *err.args[1:])
        raise


def _rerank_lines(job: _Job, data: bytes) -> str | None:
    args = job.args
    lines = read_lines(data)
    documents = [line.text for line in lines]
    with _naming_input_lines([line.number for line in lines]):
        result = job.ranker.rank(args.query, documents, job.cfg, headers=job.headers)
    order = ranked(result, args.top)
    if args.output == "json":
        results = [
            {"index": i, "line": lines[i].number, "score": score, "document": document}
            for i, score, document in order
        ]
        out: dict[str, Any] = {"query": args.query, "results": results}
        if result.usage is not None:
            out["usage"] = usage_object(result.usage)
        return _dump(out) + "\n"
    if not documents:
        return None
    rows = [
        [str(rank), str(lines[r.index].number), format_score(r.score), r.document]
        for rank, r in enumerate(order, 1)
    ]
    return table(["#", "line", "score", "document"], rows) + "\n"


def _rerank_objects(job: _Job, data: bytes) -> str | None:
    args = job.args
    numbered = read_numbered_objects(data)
    objects = [obj for _, obj in numbered]
    _check_property(objects, args.property)
    results = [SearchResult.from_json(obj) for obj in objects]
    position = {id(result): i for i, result in enumerate(results)}
    provider = ReRankerProvider(job.ranker)
    params = Params(property=args.property, query=args.query)
    with _naming_input_lines([number for number, _ in numbered]):
        ranked = provider.additional_property_fn(
            results, params, None, None, job.cfg, headers=job.headers
        )
    if not ranked:
        return "" if args.output == "json" and objects else None
    lines: list[str] = []
    rows: list[list[str]] = []
    for rank, result in enumerate(ranked[: args.top], 1):
        original = objects[position[id(result)]]
        entry = (result.additional_properties or {}).get(PROPERTY_RERANK)
        score = entry[0].score if entry else None  # None: not reranked (D-EXT-FAIL-OPEN)
        lines.append(_dump(_with_score(original, score)))
        value = original.get(args.property)
        line = numbered[position[id(result)]][0]
        rows.append([str(rank), str(line), format_score(score), _shown(value)])
    if args.output == "json":
        return "\n".join(lines) + "\n"
    return table(["#", "line", "score", args.property], rows) + "\n"


def _rerank_passages(job: _Job, data: bytes) -> str | None:
    """JSON Lines with images: each object's passage is its text property and its image."""
    from reranker_nvidia.extensions.images import Passage  # noqa: PLC0415 - only for images

    args = job.args
    numbered = read_numbered_objects(data)
    objects = [obj for _, obj in numbered]
    if not objects:
        return "" if args.output == "json" else None
    image_name: str = args.image_property
    _check_images(objects, image_name)
    passages = [_passage(obj, args.property, image_name, Passage) for obj in objects]
    with _naming_input_lines([number for number, _ in numbered]):
        result = job.ranker.rank(args.query, passages, job.cfg, headers=job.headers)
    lines: list[str] = []
    rows: list[list[str]] = []
    for rank, row in enumerate(ranked(result, args.top), 1):
        original = objects[row.index]
        lines.append(_dump(_with_score(original, row.score)))
        shown = _shown(original.get(args.property)) if args.property else "(image)"
        rows.append([str(rank), str(numbered[row.index][0]), format_score(row.score), shown])
    if args.output == "json":
        return "\n".join(lines) + "\n"
    return table(["#", "line", "score", args.property or image_name], rows) + "\n"


def _with_score(original: dict[str, Any], score: float | None) -> dict[str, Any]:
    """The input object with ``_additional.rerank = [{"score": s}]``; as it came if not
    reranked (D-EXT-FAIL-OPEN), as the ``rerank`` property leaves it."""
    if score is None:
        return original
    additional = original.get("_additional") or {}
    return {**original, "_additional": {**additional, PROPERTY_RERANK: [{"score": score}]}}


def _passage(obj: dict[str, Any], text_name: str | None, image_name: str, passage: Any) -> Any:
    """One object's passage: the text property when it is a string, the image when it is one."""
    text = obj.get(text_name) if text_name is not None else None
    image = obj.get(image_name)
    return passage(
        text=text if isinstance(text, str) else None,
        image=image if isinstance(image, str) else None,
    )


def _check_images(objects: Sequence[dict[str, Any]], name: str) -> None:
    """Refuse, before anything is sent, an image property that no object has."""
    if any(isinstance(obj.get(name), str) for obj in objects):
        return
    raise InputError(f"no search result has a string (a data: URL) in property {name!r}")


def _check_property(objects: Sequence[dict[str, Any]], name: str) -> None:
    """Refuse, before anything is sent, a property that gives no result a document."""
    fault = property_fault(objects, name)
    if fault is not None:
        raise InputError(fault)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return f"(not a string: {_dump(value)})" if value is not None else "(missing)"
