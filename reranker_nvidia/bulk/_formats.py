"""Reading and writing the tables: JSON Lines and CSV in the core, Parquet and Arrow with pyarrow.

Every reader yields rows one at a time (Parquet and Arrow one record batch at a
time), and every writer takes whole groups and writes them out in batches, so
memory stays flat whatever the file size. The format is told by the file name:
``.jsonl``/``.ndjson``/``.json``, ``.csv``, ``.parquet``/``.pq``,
``.arrow``/``.feather``/``.ipc`` (an Arrow IPC file). pyarrow is imported only
for those last two, from the ``parquet`` extra.

A writer writes to ``NAME.partial`` beside the output and renames it to the
output when closed, also when the run is interrupted: the output on disk is
always whole groups of a finished file, which is what a resumed run reads.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from reranker_nvidia.bulk._groups import (
    CHUNK,
    ERROR,
    OUTPUT_COLUMNS,
    RANK,
    SCORE,
    BulkInputError,
    Columns,
    Row,
    group_key,
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


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def read_rows(path: str | os.PathLike[str], fmt: str | None = None) -> Iterator[Row]:
    """The rows of a table, read lazily."""
    fmt = fmt or format_of(path)
    if fmt == "jsonl":
        return _read_jsonl(Path(path))
    if fmt == "csv":
        return _read_csv(Path(path))
    return (row for batch in read_batches(path, fmt) for row in batch.to_pylist())


def read_batches(path: str | os.PathLike[str], fmt: str | None = None) -> Iterator[Any]:
    """The record batches of a Parquet or Arrow file, one at a time."""
    fmt = fmt or format_of(path)
    pa = _pyarrow(fmt)
    if fmt == "parquet":
        yield from pa.parquet.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
        return
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def schema_of(path: str | os.PathLike[str], fmt: str) -> Any:
    """The Arrow schema of a Parquet or Arrow file; ``None`` for JSON Lines and CSV."""
    if fmt == "parquet":
        return _pyarrow(fmt).parquet.ParquetFile(path).schema_arrow
    if fmt == "arrow":
        pa = _pyarrow(fmt)
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).schema
    return None


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
    except OSError:
        return None


def _read_jsonl(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise BulkInputError(f"{path}:{number}: not JSON: {err.msg}") from None
            if not isinstance(row, dict):
                raise BulkInputError(f"{path}:{number}: a row is a JSON object")
            yield row


def _read_csv(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8", newline="") as stream:
        yield from csv.DictReader(stream)


def written_groups(path: str | os.PathLike[str], fmt: str, columns: Columns) -> Iterator[list[Row]]:
    """An earlier output's groups, each as its rows, in file order."""
    current: list[Row] = []
    key: str | None = None
    for row in read_rows(path, fmt):
        if columns.query_id not in row:
            raise BulkInputError(f"{path}: no column {columns.query_id!r}: not a bulk output")
        this = group_key(row[columns.query_id])
        if current and this != key:
            yield current
            current = []
        key = this
        current.append(row)
    if current:
        yield current


def group_failed(rows: Sequence[Row]) -> bool:
    """Whether a written group is a failure (its ``error`` is set)."""
    return any(row.get(ERROR) not in (None, "") for row in rows)


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


class Writer(Protocol):
    def write(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...

    def discard(self) -> None:
        """Close without an output: the ``.partial`` file is removed."""


class _FileWriter:
    """Writes ``NAME.partial``; ``close`` finishes it and renames it to the output."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")

    def _finish(self) -> None:
        os.replace(self.partial, self.path)

    def _close(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._close()
        self.partial.unlink(missing_ok=True)


class _JsonlWriter(_FileWriter):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._stream = self.partial.open("w", encoding="utf-8")

    def write(self, rows: Sequence[Row]) -> None:
        text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
        self._stream.write(text)

    def _close(self) -> None:
        self._stream.close()

    def close(self) -> None:
        self._close()
        self._finish()


def _csv_value(value: object) -> object:
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return "" if value is None else value


class _CsvWriter(_FileWriter):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._stream = self.partial.open("w", encoding="utf-8", newline="")
        self._writer: csv.DictWriter[str] | None = None

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self._writer is None:
            names = [k for k in rows[0] if k not in OUTPUT_COLUMNS] + list(OUTPUT_COLUMNS)
            self._writer = csv.DictWriter(self._stream, fieldnames=names, extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)

    def _close(self) -> None:
        self._stream.close()

    def close(self) -> None:
        self._close()
        self._finish()


class _ArrowWriter(_FileWriter):
    """Parquet or an Arrow IPC file, a record batch per ``BATCH_ROWS`` rows or so."""

    def __init__(self, path: Path, fmt: str, schema: Any) -> None:
        super().__init__(path)
        self._pa = _pyarrow(fmt)
        self._fmt = fmt
        self._schema = None if schema is None else self._output_schema(schema)
        self._writer: Any = None
        self._buffer: list[Row] = []

    def _output_schema(self, schema: Any) -> Any:
        pa = self._pa
        kept = [f for f in schema if f.name not in OUTPUT_COLUMNS]
        added = [
            pa.field(SCORE, pa.float64()),
            pa.field(RANK, pa.int64()),
            pa.field(CHUNK, pa.int64()),
            pa.field(ERROR, pa.string()),
        ]
        return pa.schema(kept + added)

    def write(self, rows: Sequence[Row]) -> None:
        self._buffer.extend(rows)
        if len(self._buffer) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        pa = self._pa
        if self._schema is None:
            self._schema = self._output_schema(pa.Table.from_pylist(self._buffer[:1000]).schema)
        table = pa.Table.from_pylist(self._buffer, schema=self._schema)
        if self._writer is None:
            if self._fmt == "parquet":
                self._writer = pa.parquet.ParquetWriter(self.partial, self._schema)
            else:
                self._writer = pa.ipc.new_file(str(self.partial), self._schema)
        self._writer.write_table(table)
        self._buffer.clear()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def close(self) -> None:
        self._flush()
        if self._writer is None:  # no row at all: an empty table of the input's columns
            schema = self._schema if self._schema is not None else self._output_schema([])
            self._schema = schema
            if self._fmt == "parquet":
                self._writer = self._pa.parquet.ParquetWriter(self.partial, schema)
            else:
                self._writer = self._pa.ipc.new_file(str(self.partial), schema)
        self._writer.close()
        self._finish()


def open_writer(path: str | os.PathLike[str], fmt: str | None = None, schema: Any = None) -> Writer:
    """A writer of whole groups; ``schema`` (Arrow) gives the input's column types."""
    target = Path(path)
    fmt = fmt or format_of(target)
    if fmt == "jsonl":
        return _JsonlWriter(target)
    if fmt == "csv":
        return _CsvWriter(target)
    return _ArrowWriter(target, fmt, schema)
