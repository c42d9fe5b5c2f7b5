"""``reranker-nvidia bulk``: score a long-form table of (query, passage) rows (D-EXT-BULK)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from reranker_nvidia.bulk import BulkSummary, ClientConfig, Columns, ScoredGroup, rerank_table
from reranker_nvidia.bulk._formats import count_rows, format_of, open_writer, read_rows, schema_of
from reranker_nvidia.bulk._resume import carry_over
from reranker_nvidia.cli.rerank import add_setting_flags, positive_int, seconds, setting_values
from reranker_nvidia.config.class_settings import DEFAULT_BASE_URL, DEFAULT_NVIDIA_MODEL
from reranker_nvidia.errors import ConfigError

DESCRIPTION = """\
Score a long-form table, one row per (query, passage), and write the same rows
with four more columns: score, rank (within the query, from 1; equal scores keep
input order), chunk (which request of the query scored the row) and error (a
failed query's error, on each of its rows, which then have no score).

The rows of one query must be consecutive. Each query is one Client.rank call:
its passages are cut into requests of --max-documents, in input order. A query
that fails is recorded and the run goes on; the summary counts the failures.

Formats, by file name: .jsonl/.ndjson/.json and .csv (the core); .parquet and
.arrow/.feather (pip install 'reranker-nvidia[parquet]'), read and written in
record batches. The output is written beside itself as NAME.partial and renamed
when the run ends, also on Ctrl-C: --resume then copies the scored queries of
the output and sends only the others (failed ones again).
"""

EPILOG = """\
environment:
  NVIDIA_APIKEY   the API key

exit status: 0 every query scored; 1 an error, or some queries failed (their rows
  carry the error; --resume sends them again); 2 usage; 130 interrupted (Ctrl-C:
  nothing more is sent, the output holds every query finished, --resume goes on).

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
        help="queries in flight at once (default: --max-concurrency)",
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
        done = self._already + summary.rows + summary.skipped_rows
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


def run(
    args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Score the table; raises RerankerError for the caller to report."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    source, target = Path(args.input), Path(args.output)
    fmt_in, fmt_out = format_of(source), format_of(target)
    if not source.is_file():
        raise ConfigError(f"{source}: no such file")
    if target.exists() and not args.resume:
        raise ConfigError(f"{target} exists: pass --resume to go on with it, or remove it")
    config = _config(args)
    columns = Columns(
        query_id=args.query_id_column,
        query=args.query_column,
        passage_id=args.passage_id_column,
        passage=args.passage_column,
        image=args.image_column,
    )
    schema = schema_of(source, fmt_in) if fmt_out in ("parquet", "arrow") else None
    writer = open_writer(target, fmt_out, schema)
    summary: BulkSummary | None = None
    progress: ProgressBar | None = None
    try:
        skip, _ = carry_over(target, fmt_out, columns, writer) if args.resume else (set(), 0)
        progress = ProgressBar(err, count_rows(source, fmt_in), 0)
        bulk = rerank_table(
            read_rows(source, fmt_in),
            config=config,
            columns=columns,
            concurrency=args.concurrency,
            skip=skip,
            on_group=progress,
        )
        summary = bulk.summary
        for group in bulk.groups():
            writer.write(group.rows)
    except KeyboardInterrupt:
        if summary is None:  # still copying an earlier output: it stays as it was
            writer.discard()
            raise
        writer.close()  # the output holds every group finished: --resume goes on from there
        if progress is not None:
            progress.clear()
        err.write(f"bulk: {summary.line()}; {target} is resumable (--resume)\n")
        raise
    except BaseException:
        if summary is not None and (summary.groups or args.resume):
            writer.close()  # what was scored is kept, and resumable
        else:
            writer.discard()  # nothing scored: no output
        if progress is not None:
            progress.clear()
        raise
    writer.close()
    progress.clear()
    out.write(f"bulk: {summary.line()} -> {target}\n")
    out.flush()
    if summary.failed_groups:
        err.write(
            f"error: {summary.failed_groups} groups failed; their rows in {target} carry "
            "the error (--resume sends them again)\n"
        )
        return 1
    return 0
