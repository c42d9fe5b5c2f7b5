"""``reranker-nvidia bulk``: score a long-form table of (query, passage) rows (D-EXT-BULK)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from reranker_nvidia.bulk import (
    BulkStoppedError,
    BulkSummary,
    ClientConfig,
    Columns,
    ScoredGroup,
    rerank_table,
)
from reranker_nvidia.bulk._formats import (
    BulkOutputError,
    Writer,
    count_rows,
    format_of,
    open_writer,
    output_columns,
    read_rows,
)
from reranker_nvidia.bulk._resume import (
    Resume,
    leftovers,
    next_leftover,
    plan_resume,
    unfinished,
)
from reranker_nvidia.cli.output import logged_warnings
from reranker_nvidia.cli.rerank import (
    NOT_RERANKED,
    add_fail_open_flag,
    add_setting_flags,
    positive_int,
    seconds,
    setting_values,
    whole_number,
)
from reranker_nvidia.config.class_settings import DEFAULT_BASE_URL, DEFAULT_NVIDIA_MODEL
from reranker_nvidia.errors import ConfigError

STOP_AFTER_FAILURES = 20
"""Queries in a row failing with the same kind of error that stop a run, by default."""

DESCRIPTION = """\
Score a long-form table, one row per (query, passage), and write the same rows
with four more columns: score, rank (within the query, from 1; equal scores keep
input order), chunk (which request of the query scored the row) and error (a
failed query's error, on each of its rows, which then have no score).

The rows of one query must be consecutive. Each query is one Client.rank call:
its passages are cut into requests of --max-documents, in input order. A query
that fails (a bad cell included) is recorded and the run goes on; the summary
counts the failures and names the most common. With --usage, two more columns:
prompt_tokens and total_tokens, the query's token counts (empty when NIM sent none).

Formats, by file name: .jsonl/.ndjson/.json and .csv (the core); .parquet and
.arrow/.feather (pip install 'reranker-nvidia[parquet]'), read and written in
record batches. The output is written beside itself as NAME.partial, a query
whole or not at all, and renamed when the run ends, also on Ctrl-C or SIGTERM:
--resume then takes the queries the output (and any NAME.partial a killed run
left) holds exactly as the input has them, and scores the others, in input order.
"""

EPILOG = f"""\
environment:
  NVIDIA_APIKEY   the API key

exit status: 0 every query scored; 1 an error, or some queries failed (their rows
  carry the error; --resume sends them again); 2 usage; 3 no query failed but some
  were not reranked (--fail-open: their rows in input order, no score, the error
  on each; --resume sends them again); 130 interrupted (Ctrl-C or
  SIGTERM: nothing more is sent, the output holds every query finished, --resume
  goes on; a third signal ends at once, leaving NAME.partial).

--stop-after-failures: {STOP_AFTER_FAILURES} by default; 0 never stops.

example:
  reranker-nvidia bulk --input pairs.parquet --output scored.parquet --rpm 600 --retries 3
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``bulk``'s options."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--input", required=True, metavar="FILE", help="the table to score")
    parser.add_argument("--output", required=True, metavar="FILE", help="where to write it")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the queries --output holds already, score the others",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        help="queries in flight at once, each sending up to --max-concurrency requests "
        "(default 16: a bulk job waits on the network, not on this machine's CPUs)",
    )
    parser.add_argument(
        "--stop-after-failures",
        type=whole_number,
        default=STOP_AFTER_FAILURES,
        metavar="N",
        help="stop once N queries in a row failed with the same kind of error "
        f"(default {STOP_AFTER_FAILURES}; 0: never)",
    )
    columns = parser.add_argument_group("columns", "the input's column names")
    defaults = Columns()
    for name in ("query_id", "query", "passage_id", "passage", "image"):
        columns.add_argument(
            f"--{name.replace('_', '-')}-column",
            dest=f"{name}_column",
            default=getattr(defaults, name),
            metavar="NAME",
            help=f"(default {getattr(defaults, name)!r})"
            + ("; used where a row has it" if name == "image" else ""),
        )
    settings = parser.add_argument_group("settings")
    settings.add_argument(
        "--model", metavar="M", help=f"class setting 'model' (default {DEFAULT_NVIDIA_MODEL})"
    )
    settings.add_argument(
        "--base-url", metavar="URL", help=f"class setting 'baseURL' (default {DEFAULT_BASE_URL})"
    )
    settings.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help="per request; 0 means none (default: MODULES_CLIENT_TIMEOUT, else 50)",
    )
    add_setting_flags(settings)
    add_fail_open_flag(settings)


class ProgressBar:
    """``rows a/b (p%)  groups g  failed f  r rows/s  ETA m:ss`` on a terminal; else nothing."""

    def __init__(self, stream: TextIO, total: int | None, already: int) -> None:
        self._stream = stream
        self._active = stream.isatty()
        self._total = total
        self._already = already
        self._last = 0.0
        self._shown = False

    def __call__(self, group: ScoredGroup, summary: BulkSummary, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self._active or (not force and now - self._last < 0.1):
            return
        self._last = now
        done = self._already + summary.rows + summary.dropped_rows + summary.skipped_rows
        rate = summary.rows_per_second
        text = f"rows {done}"
        eta = ""
        if self._total:
            text += f"/{self._total} ({100 * done / self._total:.1f}%)"
            if rate > 0:
                left = max(self._total - done, 0) / rate
                eta = f"  ETA {int(left // 60)}:{int(left % 60):02d}"
        text += f"  groups {summary.groups}  failed {summary.failed_groups}  {rate:.0f} rows/s"
        self._stream.write("\r\x1b[K" + text + eta)
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False


def _config(args: argparse.Namespace) -> ClientConfig:
    return ClientConfig(
        base_url=args.base_url, model=args.model, timeout=args.timeout, **setting_values(args)
    )


def _refuse_the_same_file(source: Path, target: Path) -> None:
    """Refuse an output that is the input (the same path, or the same file through a link)."""
    through_link = False
    try:
        same = os.path.samefile(source, target)
        through_link = same and os.path.abspath(source) != os.path.abspath(target)
    except OSError:  # one of them does not exist (yet)
        same = os.path.realpath(source) == os.path.realpath(target)
    if same:
        how = " (through a link)" if through_link else ""
        raise ConfigError(
            f"{target} is {source}{how}: the output would replace the input; "
            "choose another --output"
        )


class _Signals:
    """Ctrl-C and SIGTERM while ``bulk`` runs: stop sending, keep every query finished.

    The first signal raises ``KeyboardInterrupt`` in the main thread, unless a
    group is being written or the output finished (:meth:`guarded`): then it
    is raised once that is done, so a group is never cut. A second signal
    while the output is being saved is noted, and a third ends the process at
    once (status 130), leaving ``NAME.partial`` as it is.
    """

    def __init__(self) -> None:
        self.received: list[str] = []
        self._raised = False
        self._pending = False
        self._depth = 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous[number] = signal.signal(number, self._on_signal)

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.received.append(signal.Signals(number).name)
        if len(self.received) >= 3:
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
            with contextlib.suppress(OSError):
                os.write(2, b"\nerror: interrupted (the output was not saved)\n")
            os._exit(130)
        if self._raised or self._depth:
            self._pending = not self._raised
            return
        self._raised = True
        raise KeyboardInterrupt

    def finished(self) -> None:
        """The run is over, its output complete: a signal from now on ends nothing."""
        self._raised = True
        self._pending = False

    @contextlib.contextmanager
    def guarded(self) -> Iterator[None]:
        """No interrupt inside: one that comes meanwhile is raised when the block ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending:
            self._pending = False
            self._raised = True
            raise KeyboardInterrupt


def run(
    args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Score the table; raises RerankerError for the caller to report."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    source, target = Path(args.input), Path(args.output)
    _refuse_the_same_file(source, target)  # before anything is read
    format_of(source), format_of(target)  # a known format each, or a usage error now
    if not source.is_file():
        raise ConfigError(f"{source}: no such file")
    left = unfinished(target)
    if not args.resume:
        if target.exists():
            raise ConfigError(f"{target} exists: pass --resume to go on with it, or remove it")
        if left:
            raise ConfigError(
                f"{left[0]} is left by a run that did not finish: pass --resume to go on "
                "with it, or remove it"
            )
    signals = _Signals()
    signals.install()
    try:
        with logged_warnings() as warned:  # D-EXT-FAIL-OPEN: each distinct warning once
            try:
                return _run(args, source, target, signals=signals, out=out, err=err)
            finally:
                warned.write(err)
    finally:
        signals.restore()


def _run(
    args: argparse.Namespace,
    source: Path,
    target: Path,
    *,
    signals: _Signals,
    out: TextIO,
    err: TextIO,
) -> int:
    fmt_in, fmt_out = format_of(source), format_of(target)
    config = _config(args)
    columns = Columns(
        query_id=args.query_id_column,
        query=args.query_column,
        passage_id=args.passage_id_column,
        passage=args.passage_column,
        image=args.image_column,
    )
    names, schema = output_columns(source, fmt_in, fmt_out)
    resume: Resume | None = None
    sources: list[Path] = []
    if args.resume:
        partial = target.with_name(target.name + ".partial")
        if partial.exists():  # a killed run's: a source like the others
            partial.rename(next_leftover(target))
        sources = ([target] if target.exists() else []) + leftovers(target)
    if sources:
        first = read_rows(source, fmt_in)
        resume = plan_resume(first, sources, fmt_out, columns, first.where)
        for note in resume.notes:
            err.write(f"warning: {note}\n")
    writer = open_writer(target, fmt_out, schema, names, usage=bool(config.usage))
    written = 0
    summary: BulkSummary | None = None
    progress: ProgressBar | None = None
    try:
        progress = ProgressBar(err, count_rows(source, fmt_in), 0)
        bulk = rerank_table(
            read_rows(source, fmt_in),
            config=config,
            columns=columns,
            concurrency=args.concurrency,
            on_group=progress,
            carried=None if resume is None else resume.carried,
            stop_after=args.stop_after_failures,
        )
        summary = bulk.summary
        with contextlib.closing(bulk.groups()) as groups:
            for group in groups:
                with signals.guarded():
                    writer.write(group.rows)
                    written += 1
        with signals.guarded():
            writer.close()
            signals.finished()  # a signal while it closed comes too late to stop anything
    except BaseException as error:
        with signals.guarded():
            kept, unsaved = _save(writer, target, written)
            if progress is not None:
                progress.clear()
            _report_stop(error, summary, kept=kept, target=target, signals=signals, err=err)
        if isinstance(error, BulkOutputError) and unsaved is not None:
            raise unsaved from None  # it says what became of this run's queries
        raise
    for path in sources:
        if path != target:
            with contextlib.suppress(OSError):
                path.unlink()  # a source of this resume, now in the output
    progress.clear()
    out.write(f"bulk: {summary.line()} -> {target}\n")
    out.flush()
    if summary.failed_groups:
        common = summary.common_error()
        text = (
            f"error: {summary.failed_groups} groups failed; their rows in {target} carry "
            "the error (--resume sends them again)"
        )
        if common is not None:
            text += f"; the most common, in {common.groups} groups: {common.message}"
        err.write(text + "\n")
        if common is not None and common.hint and common.hint not in common.message:
            err.write(f"hint: {common.hint}\n")
        return 1
    if summary.not_reranked_groups:
        return NOT_RERANKED  # D-EXT-FAIL-OPEN: written, in input order, but not reranked
    return 0


def _save(writer: Writer, target: Path, written: int) -> tuple[Path | None, BulkOutputError | None]:
    """Keep the groups written, whole: in the output, or beside it when it exists (a resume).

    Gives where they are (``None``: nowhere), and why not, if they could not be kept.
    """
    if not written:
        writer.discard()  # nothing finished: nothing to keep, and an earlier output stays
        return None, None
    to = next_leftover(target) if target.exists() else target
    try:
        writer.keep(to)
    except BulkOutputError as why:
        writer.discard()  # a file that cannot be finished is not renamed into place
        return None, why
    return to, None


def _report_stop(
    error: BaseException,
    summary: BulkSummary | None,
    *,
    kept: Path | None,
    target: Path,
    signals: _Signals,
    err: TextIO,
) -> None:
    """The summary of a run that stopped, on stderr, saying where its work is."""
    told = isinstance(error, KeyboardInterrupt | BulkStoppedError | BulkOutputError)
    if summary is None or (kept is None and not told):
        return  # an error before any query was done: its own line says it all
    line = f"bulk: {summary.line()}"
    if signals.received and isinstance(error, KeyboardInterrupt):
        line += f" ({signals.received[0]})" if signals.received[0] != "SIGINT" else ""
    if kept == target:
        line += f"; {target} is resumable (--resume)"
    elif kept is not None:
        line += f"; {target} is resumable (--resume): this run's queries wait in {kept}"
    elif isinstance(error, BulkOutputError):
        line += "; nothing of this run could be kept"
    err.write(line + "\n")
    err.flush()
