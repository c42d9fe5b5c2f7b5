"""Reading and writing the tables: JSON Lines and CSV in the core, Parquet and Arrow with pyarrow.

Every reader yields rows one at a time (Parquet and Arrow one record batch at a
time), names each row as the user does (``line 7`` of a text file, ``row 7``
of a Parquet or Arrow file), and says in one line what is wrong with a file
that is not of its format (not UTF-8, not JSON, not Parquet). Every writer
takes whole groups, so memory stays flat whatever the file size. The format is
told by the file name: ``.jsonl``/``.ndjson``/``.json``, ``.csv``,
``.parquet``/``.pq``, ``.arrow``/``.feather``/``.ipc`` (an Arrow IPC file).
pyarrow is imported only for those last two, from the ``parquet`` extra.

A writer writes to ``NAME.partial`` beside the output, and a group is on disk
whole or not at all: a JSON Lines or CSV writer writes each group in one piece
and, when a write fails (a full disk, Ctrl-C), cuts the file back to the end
of the last whole group; a Parquet or Arrow writer writes whole groups in
record batches, and its file is checked readable before it is renamed.
:meth:`Writer.close` renames the file to the output; :meth:`Writer.keep` to
another name (what an interrupted resume leaves beside the output).
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from reranker_nvidia.bulk._columnar import USAGE_COLUMNS, ArrowRows
from reranker_nvidia.bulk._groups import (
    CHUNK,
    ERROR,
    OUTPUT_COLUMNS,
    RANK,
    SCORE,
    BulkInputError,
    Row,
)
from reranker_nvidia.errors import ConfigError

FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
BATCH_ROWS = 16_384
"""Rows per record batch read, and about the rows per batch written."""

_EXTRA = "pip install 'reranker-nvidia[parquet]'"
_NAMES = {"parquet": "Parquet", "arrow": "Arrow IPC", "csv": "CSV", "jsonl": "JSON Lines"}
_LABELS_KEPT = 1 << 16
"""How many recent rows a reader remembers the lines of (a run reads at most a window ahead)."""


class BulkOutputError(ConfigError):
    """The output cannot be written: a full or read-only disk, no such directory, …"""


def format_of(path: str | os.PathLike[str]) -> str:
    """The format a file name says: ``jsonl``, ``csv``, ``parquet`` or ``arrow``."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        known = ", ".join(FORMATS)
        raise BulkInputError(f"{path}: unknown table format {suffix!r}; known: {known}") from None


def _pyarrow(fmt: str) -> Any:
    try:
        import pyarrow  # noqa: PLC0415 - only Parquet and Arrow need it
        import pyarrow.ipc  # noqa: PLC0415
        import pyarrow.parquet  # noqa: PLC0415
    except ImportError:
        raise ConfigError(f"{fmt} tables need pyarrow: {_EXTRA}") from None
    return pyarrow


def _arrow_errors(pa: Any) -> tuple[type[BaseException], ...]:
    return (pa.ArrowException, OSError, ValueError, TypeError, OverflowError)


def _unreadable(path: object, fmt: str, err: BaseException) -> BulkInputError:
    detail = " ".join(str(err).split()) or type(err).__name__
    return BulkInputError(f"{path}: not a readable {_NAMES[fmt]} file: {detail}")


def os_error_text(err: OSError) -> str:
    """An OS error in a few words: ``No space left on device``."""
    if err.errno:
        return os.strerror(err.errno)
    if err.strerror:
        return err.strerror
    return " ".join(str(err).split()) or type(err).__name__


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


class TableRows:
    """The rows of a table file, read lazily, each named as the user names it.

    Iterating it reads the file (again, each time); :meth:`where` gives the
    name of the ``number``-th row read (1-based): ``line N`` of a JSON Lines or
    CSV file (where the record starts; a CSV header is line 1), ``row N`` of a
    Parquet or Arrow file. ``columns`` is the CSV header, once read.
    """

    def __init__(self, path: str | os.PathLike[str], fmt: str | None = None) -> None:
        self.path = Path(path)
        self.fmt = fmt or format_of(path)
        self.columns: list[str] | None = None
        self._lines: collections.OrderedDict[int, int] = collections.OrderedDict()
        self.torn = False
        """Whether the last row was cut (a JSON Lines or CSV file that does not end a line)."""

    def where(self, number: int) -> str:
        line = self._lines.get(number)
        if line is None:
            return f"row {number}"
        return f"line {line}"

    def _remember(self, number: int, line: int) -> None:
        self._lines[number] = line
        if len(self._lines) > _LABELS_KEPT:
            self._lines.popitem(last=False)

    def __iter__(self) -> Iterator[Row]:
        if self.fmt == "jsonl":
            return self._jsonl()
        if self.fmt == "csv":
            return self._csv()
        return self._arrow()

    def _text_lines(self) -> Iterator[tuple[int, str]]:
        """The file's lines, decoded one at a time: a line that is not UTF-8 says so."""
        try:
            stream = self.path.open("rb")
        except OSError as err:
            raise BulkInputError(f"{self.path}: cannot read: {os_error_text(err)}") from None
        with stream:
            number = 0
            while True:
                try:
                    raw = stream.readline()
                except OSError as err:
                    raise BulkInputError(
                        f"{self.path} line {number + 1}: cannot read: {os_error_text(err)}"
                    ) from None
                if not raw:
                    return
                number += 1
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]  # Excel's "CSV UTF-8" starts so
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise BulkInputError(
                        f"{self.path} line {number}: not UTF-8 text (byte 0x{raw[err.start]:02x} "
                        f"at column {len(raw[: err.start].decode('utf-8', 'replace')) + 1}); "
                        "save the file as UTF-8"
                    ) from None
                self.torn = not text.endswith("\n")
                yield number, text

    def _jsonl(self) -> Iterator[Row]:
        ordinal = 0
        for number, line in self._text_lines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise BulkInputError(f"{self.path} line {number}: not JSON: {err.msg}") from None
            except RecursionError:
                raise BulkInputError(f"{self.path} line {number}: JSON nested too deep") from None
            if not isinstance(row, dict):
                raise BulkInputError(
                    f"{self.path} line {number}: a row is a JSON object, not {_json_kind(row)}"
                )
            ordinal += 1
            self._remember(ordinal, number)
            yield row

    def _csv(self) -> Iterator[Row]:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long passages are fields too
        lines = self._text_lines()
        last_line = 0

        def texts() -> Iterator[str]:
            nonlocal last_line
            for number, text in lines:
                last_line = number
                yield text

        reader = csv.reader(texts())
        ordinal = 0
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                return
            self.columns = header
            start = last_line + 1
            for record in reader:
                first, start = start, last_line + 1
                if not record:
                    continue  # a blank line
                if len(record) > len(header):
                    raise BulkInputError(
                        f"{self.path} line {first}: {len(record)} fields, but the header has "
                        f"{len(header)}"
                    )
                ordinal += 1
                self._remember(ordinal, first)
                values: list[str | None] = list(record)
                values += [None] * (len(header) - len(record))  # a short row: empty cells
                yield dict(zip(header, values, strict=True))
        except csv.Error as err:
            raise BulkInputError(f"{self.path} line {start}: not CSV: {err}") from None

    def items(self) -> Iterator[Row | Any]:
        """The rows, or for Parquet and Arrow the record batches (kept as Arrow), in order."""
        if self.fmt in ("jsonl", "csv"):
            return iter(self)
        return self._batches()

    def _batches(self) -> Iterator[Any]:
        pa = _pyarrow(self.fmt)
        errors = _arrow_errors(pa)
        batches = read_batches(self.path, self.fmt)
        ordinal = 0
        while True:
            try:
                batch = next(batches, None)
            except errors as err:
                raise BulkInputError(
                    f"{self.path} row {ordinal + 1}: not readable: {' '.join(str(err).split())}"
                ) from None
            if batch is None:
                return
            ordinal += batch.num_rows
            yield batch

    def _arrow(self) -> Iterator[Row]:
        for batch in self._batches():
            yield from batch.to_pylist()


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def read_rows(path: str | os.PathLike[str], fmt: str | None = None) -> TableRows:
    """The rows of a table, read lazily; ``.where(n)`` names the n-th row as the user does."""
    return TableRows(path, fmt)


def read_batches(path: str | os.PathLike[str], fmt: str | None = None) -> Iterator[Any]:
    """The record batches of a Parquet or Arrow file, one at a time."""
    fmt = fmt or format_of(path)
    pa = _pyarrow(fmt)
    errors = _arrow_errors(pa)
    if fmt == "parquet":
        try:
            batches = pa.parquet.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
        except errors as err:
            raise _unreadable(path, fmt, err) from None
        yield from batches
        return
    try:
        source = pa.memory_map(str(path))
        reader = pa.ipc.open_file(source)
    except errors as err:
        raise _unreadable(path, fmt, err) from None
    with source:
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def schema_of(path: str | os.PathLike[str], fmt: str) -> Any:
    """The Arrow schema of a Parquet or Arrow file; ``None`` for JSON Lines and CSV."""
    if fmt not in ("parquet", "arrow"):
        return None
    pa = _pyarrow(fmt)
    try:
        if fmt == "parquet":
            return pa.parquet.ParquetFile(path).schema_arrow
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).schema
    except _arrow_errors(pa) as err:
        raise _unreadable(path, fmt, err) from None


def count_rows(path: str | os.PathLike[str], fmt: str) -> int | None:
    """How many rows the table has, cheaply (for the progress bar); ``None`` if unknown."""
    try:
        if fmt == "parquet":
            rows: int = _pyarrow(fmt).parquet.ParquetFile(path).metadata.num_rows
            return rows
        if fmt == "arrow":
            pa = _pyarrow(fmt)
            with pa.memory_map(str(path)) as source:
                reader = pa.ipc.open_file(source)
                return sum(
                    int(reader.get_batch(i).num_rows) for i in range(reader.num_record_batches)
                )
        lines = 0
        with open(path, "rb") as stream:
            while block := stream.read(1 << 20):
                lines += block.count(b"\n")
        return max(lines - 1, 0) if fmt == "csv" else lines
    except Exception:  # noqa: BLE001 - only a progress figure; reading says what is wrong
        return None


# --------------------------------------------------------------------------
# The output's columns
# --------------------------------------------------------------------------

_KIND_NAMES = {
    "bool": "a boolean",
    "int": "an integer",
    "float": "a number",
    "str": "text",
    "nested": "an array or object",
    "big": "an integer too large for 64 bits",
}


def _kind(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**63) <= value < 2**63 else "big"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "nested"


def survey_columns(rows: TableRows, out_fmt: str) -> tuple[list[str], Any]:
    """Every column of a JSON Lines table, in the order first seen, and an Arrow schema for them.

    A JSON Lines row may have columns the first rows do not: a CSV header or an
    Arrow schema is made before the first row is written, so the table is read
    once through to find them all. For Parquet and Arrow outputs each column
    must hold one type (integers and numbers make numbers); a column that does
    not is refused, naming it and the two lines that disagree. The schema is
    ``None`` for a CSV output.
    """
    kinds: dict[str, tuple[str, str]] = {}
    names: dict[str, None] = {}
    nested: dict[str, object] = {}
    for number, row in enumerate(rows, 1):
        for name, value in row.items():
            names.setdefault(name, None)
            if out_fmt not in ("parquet", "arrow") or name in OUTPUT_COLUMNS:
                continue
            kind = _kind(value)
            if kind is None:
                continue
            if kind == "big":
                raise BulkInputError(
                    f"{rows.where(number)}: column {name!r} holds {_KIND_NAMES[kind]}, which "
                    f"a {_NAMES[out_fmt]} column cannot hold; write JSON Lines, or make it text"
                )
            seen = kinds.get(name)
            if seen is None:
                kinds[name] = (kind, rows.where(number))
                if kind == "nested":
                    nested[name] = value
                continue
            joined = _joined(seen[0], kind)
            if joined is None:
                raise BulkInputError(
                    f"{rows.where(number)}: column {name!r} holds {_KIND_NAMES[kind]}, but "
                    f"{_KIND_NAMES[seen[0]]} on {seen[1]}: a {_NAMES[out_fmt]} "
                    "column holds one type; make it one type, or write JSON Lines"
                )
            if joined != seen[0]:
                kinds[name] = (joined, seen[1])
    columns = list(names)
    if out_fmt not in ("parquet", "arrow"):
        return columns, None
    pa = _pyarrow(out_fmt)
    types = {
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
    }
    fields = []
    for name in columns:
        if name in OUTPUT_COLUMNS:
            continue
        kind = kinds.get(name, ("str", ""))[0]
        if kind == "nested":
            fields.append(pa.field(name, pa.infer_type([nested[name]])))
        else:
            fields.append(pa.field(name, types[kind]))
    return columns, pa.schema(fields)


def csv_header(path: str | os.PathLike[str]) -> list[str]:
    """A CSV file's header (no row is read)."""
    rows = TableRows(path, "csv")
    for _ in rows:
        break
    return rows.columns or []


def output_columns(source: Path, fmt_in: str, fmt_out: str) -> tuple[list[str] | None, Any]:
    """The output's columns (a CSV header) and Arrow schema, known before the first row is written.

    From a CSV header, a Parquet or Arrow schema, or, for JSON Lines, a first
    reading of the whole table (:func:`survey_columns`). ``(None, None)`` for
    a JSON Lines output, which writes each row as it is.
    """
    if fmt_out == "jsonl":
        return None, None
    if fmt_in == "jsonl":
        return survey_columns(TableRows(source, fmt_in), fmt_out)
    if fmt_in == "csv":
        names = csv_header(source)
        if fmt_out == "csv":
            return names, None
        pa = _pyarrow(fmt_out)
        return names, pa.schema([pa.field(n, pa.string()) for n in names])
    schema = schema_of(source, fmt_in)
    return list(schema.names), schema


def _joined(a: str, b: str) -> str | None:
    if a == b:
        return a
    if {a, b} == {"int", "float"}:
        return "float"
    return None


def output_schema(pa: Any, schema: Any, usage: bool = False) -> Any:
    """The input's Arrow schema, its output columns replaced by the four the output adds
    (and, with ``usage``, the two token counts)."""
    own = OUTPUT_COLUMNS + (USAGE_COLUMNS if usage else ())
    kept = [f for f in schema if f.name not in own]
    added = [
        pa.field(SCORE, pa.float64()),
        pa.field(RANK, pa.int64()),
        pa.field(CHUNK, pa.int64()),
        pa.field(ERROR, pa.string()),
    ]
    if usage:
        added += [pa.field(name, pa.int64()) for name in USAGE_COLUMNS]
    return pa.schema(kept + added)


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


class Writer(Protocol):
    def write(self, rows: Sequence[Row]) -> None:
        """Write one group, whole or not at all."""

    def close(self) -> None:
        """Finish the file and rename it to the output."""

    def keep(self, path: Path) -> None:
        """Finish the file (the groups written whole) and rename it to ``path``."""

    def discard(self) -> None:
        """Close without an output: the ``.partial`` file is removed."""


def partial_path(path: Path) -> Path:
    """Where the output is written until it is finished: ``NAME.partial``."""
    return path.with_name(path.name + ".partial")


def _write_error(path: Path, err: OSError) -> BulkOutputError:
    return BulkOutputError(f"{path}: cannot write: {os_error_text(err)}")


class _FileWriter:
    """Writes ``NAME.partial``; ``close`` finishes it and renames it to the output."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = partial_path(path)
        self.broken: BulkOutputError | None = None
        """Why the file cannot take more groups (a write failed)."""

    def _finish(self) -> None:
        raise NotImplementedError

    def _abandon(self) -> None:
        raise NotImplementedError

    def keep(self, path: Path) -> None:
        self._finish()
        try:
            os.replace(self.partial, path)
        except OSError as err:
            raise BulkOutputError(
                f"{self.partial}: cannot rename it to {path}: {os_error_text(err)}"
            ) from None

    def close(self) -> None:
        self.keep(self.path)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._abandon()
        with contextlib.suppress(OSError):
            self.partial.unlink(missing_ok=True)


class _TextWriter(_FileWriter):
    """JSON Lines or CSV: each group is one ``os.write`` sequence, cut back if it fails."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self._fd: int | None = os.open(
                self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
            )
        except OSError as err:
            raise _write_error(self.partial, err) from None
        self._committed = 0
        self._unfinished: BulkOutputError | None = None

    def _render(self, rows: Sequence[Row]) -> bytes:
        raise NotImplementedError

    def write(self, rows: Sequence[Row]) -> None:
        if self.broken is not None:
            raise self.broken
        if not rows:
            return
        data = memoryview(self._render(rows))
        fd = self._fd
        assert fd is not None
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:])
        except BaseException as err:
            self._cut()  # a group is on disk whole or not at all
            if isinstance(err, OSError):
                self.broken = _write_error(self.partial, err)
                raise self.broken from None
            raise
        self._committed += len(data)

    def _cut(self) -> None:
        """Back to the end of the last whole group."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._committed)
                os.lseek(self._fd, self._committed, os.SEEK_SET)

    def _finish(self) -> None:
        if self._unfinished is not None:
            raise self._unfinished
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.fsync(fd)  # on disk before it replaces anything
        except OSError as err:
            with contextlib.suppress(OSError):
                os.close(fd)
            self._unfinished = _write_error(self.partial, err)
            raise self._unfinished from None
        os.close(fd)

    def _abandon(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class _JsonlWriter(_TextWriter):
    def _render(self, rows: Sequence[Row]) -> bytes:
        text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
        return text.encode("utf-8")


def _csv_value(value: object) -> object:
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return "" if value is None else value


class _CsvWriter(_TextWriter):
    """A header made of the columns given (else the first group's), then the rows."""

    def __init__(self, path: Path, columns: Sequence[str] | None, usage: bool = False) -> None:
        super().__init__(path)
        self._own = OUTPUT_COLUMNS + (USAGE_COLUMNS if usage else ())
        self._names: list[str] | None = None
        if columns is not None:
            self._names = [c for c in columns if c not in self._own] + list(self._own)
        self._header_written = False

    def _render(self, rows: Sequence[Row]) -> bytes:
        if self._names is None:
            self._names = [k for k in rows[0] if k not in self._own] + list(self._own)
        names = self._names
        known = set(names)
        for row in rows:
            for name in row:
                if name not in known:
                    raise BulkInputError(
                        f"column {name!r} (query {row.get('query_id', '?')!r}) is not in the "
                        f"CSV header, which was made from the first rows: give open_writer "
                        "every column (columns=…)"
                    )
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if not self._header_written:
            writer.writerow(names)
        writer.writerows([_csv_value(row.get(name)) for name in names] for row in rows)
        data = buffer.getvalue().encode("utf-8")
        self._header_written = True  # only once the group is rendered: it is written with it
        return data

    def write(self, rows: Sequence[Row]) -> None:
        header_was_written = self._header_written
        try:
            super().write(rows)
        except BaseException:
            self._header_written = header_was_written  # the cut took the header too
            raise


class _ArrowWriter(_FileWriter):
    """Parquet or an Arrow IPC file, a record batch per ``BATCH_ROWS`` rows or so."""

    def __init__(self, path: Path, fmt: str, schema: Any, usage: bool = False) -> None:
        super().__init__(path)
        self._pa = _pyarrow(fmt)
        self._fmt = fmt
        self._usage = usage
        self._schema = None if schema is None else output_schema(self._pa, schema, usage)
        self._writer: Any = None
        self._buffer: list[Any] = []  # output tables (from Arrow rows) and lists of rows
        self._buffered = 0
        self._rows_written = 0
        try:
            self.partial.touch()  # a read-only or missing directory is found now, not later
        except OSError as err:
            raise _write_error(self.partial, err) from None

    def write(self, rows: Sequence[Row]) -> None:
        if self.broken is not None:
            raise self.broken
        table = None
        if isinstance(rows, ArrowRows) and self._schema is not None:
            table = rows.output(self._schema)  # Arrow in, Arrow out: no row is made
        if table is not None:
            self._buffer.append(table)
        else:
            rows = list(rows)
            if self._schema is not None:
                self._check_columns(self._schema, rows)
            self._buffer.append(rows)
        self._buffered += len(rows)
        if self._buffered >= BATCH_ROWS:
            self._flush()

    def _check_columns(self, schema: Any, rows: Sequence[Row]) -> None:
        known = set(schema.names)
        for row in rows:
            for name in row:
                if name not in known:
                    raise BulkInputError(
                        f"column {name!r} (query {row.get('query_id', '?')!r}) is not in the "
                        f"{_NAMES[self._fmt]} schema, which was made from the first rows: give "
                        "open_writer the schema of every column (schema=…)"
                    )

    def _table(self, schema: Any, rows: list[Row]) -> Any:
        pa = self._pa
        try:
            return pa.Table.from_pylist(rows, schema=schema)
        except _arrow_errors(pa):
            pass
        for row in rows:  # which row and column: one line saying so
            for f in schema:
                try:
                    pa.array([row.get(f.name)], type=f.type)
                except _arrow_errors(pa) as err:
                    raise BulkInputError(
                        f"query {row.get('query_id', '?')!r}: column {f.name!r} holds "
                        f"{row.get(f.name)!r}, which is not {f.type} (the column's type): "
                        f"{' '.join(str(err).split())}"
                    ) from None
        return pa.Table.from_pylist(rows, schema=schema)

    def _flush(self) -> None:
        if not self._buffer:
            return
        pa = self._pa
        schema = self._schema
        if all(not isinstance(part, list) for part in self._buffer):
            table = pa.concat_tables(self._buffer)
            if self._fmt == "arrow":  # a record batch per write, as from rows
                table = table.combine_chunks()
        else:
            rows: list[Row] = []
            for part in self._buffer:
                rows.extend(part if isinstance(part, list) else part.to_pylist())
            if schema is None:
                inferred = pa.Table.from_pylist(rows[:1000]).schema
                schema = output_schema(pa, inferred, self._usage)
                self._check_columns(schema, rows)
                self._schema = schema
            table = self._table(schema, rows)
        try:
            if self._writer is None:
                self._writer = self._open(schema)
            self._writer.write_table(table)
        except OSError as err:
            self.broken = _write_error(self.partial, err)
            raise self.broken from None
        self._rows_written += table.num_rows
        self._buffer.clear()
        self._buffered = 0

    def _open(self, schema: Any) -> Any:
        if self._fmt == "parquet":
            return self._pa.parquet.ParquetWriter(self.partial, schema)
        return self._pa.ipc.new_file(str(self.partial), schema)

    def _finish(self) -> None:
        if self.broken is not None:
            raise self._finish_error()
        try:
            self._flush()
            if self._writer is None:  # no row at all: an empty table of the input's columns
                schema = self._schema
                if schema is None:
                    schema = output_schema(self._pa, [], self._usage)
                self._schema = schema
                self._writer = self._open(schema)
            writer, self._writer = self._writer, None
            writer.close()
        except BulkOutputError:
            raise self._finish_error() from None
        except OSError as err:
            self.broken = _write_error(self.partial, err)
            raise self._finish_error() from None
        if count_rows(self.partial, self._fmt) != self._rows_written:  # its footer, read back
            self.broken = BulkOutputError(f"{self.partial}: cannot write: its footer is missing")
            raise self._finish_error()

    def _finish_error(self) -> BulkOutputError:
        return BulkOutputError(
            f"{self.broken}; a {_NAMES[self._fmt]} file cannot be finished after a failed "
            "write, so it holds none of this run's groups"
        )

    def _abandon(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


def open_writer(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    schema: Any = None,
    columns: Iterable[str] | None = None,
    *,
    usage: bool = False,
) -> Writer:
    """A writer of whole groups to ``NAME.partial``, renamed to ``path`` when closed.

    ``schema`` (Arrow) gives the Parquet or Arrow output's columns and types,
    ``columns`` the CSV header; without them they are taken from the first
    rows written, and a later row with another column is refused. ``usage``: the
    rows carry the token columns too (``prompt_tokens``, ``total_tokens``; D-EXT-USAGE).
    """
    target = Path(path)
    fmt = fmt or format_of(target)
    if fmt == "jsonl":
        return _JsonlWriter(target)
    if fmt == "csv":
        return _CsvWriter(target, None if columns is None else list(columns), usage)
    return _ArrowWriter(target, fmt, schema, usage)
