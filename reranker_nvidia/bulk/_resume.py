"""Resuming a run: the queries an earlier output holds whole are taken from it, not sent again.

The sources are the output (``NAME``) and what runs that did not finish left
beside it: ``NAME.partial`` (a run killed without a chance to close: SIGKILL, a
power cut), renamed ``NAME.partial.1``, ``.2``, … when a resume starts, and the
``NAME.partial.K`` an interrupted resume leaves (it keeps ``NAME`` as it was).

A query of the input is *done* when a source holds exactly its input rows: the
same query id and query text, the same passage ids and passages in the same
order, the same count, each row with a score, a rank and a chunk and no error.
Anything else (a query the input changed since, a cut group, a failed query)
is scored again. The input and each source are read twice (once to match,
once to copy), one group at a time; what is kept in memory is a fingerprint
per query. The copied rows are the input's rows with the source's ``score``,
``rank`` and ``chunk``, written in the input's order.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reranker_nvidia.bulk._columnar import USAGE_COLUMNS
from reranker_nvidia.bulk._formats import TableRows, partial_path
from reranker_nvidia.bulk._groups import (
    CHUNK,
    ERROR,
    RANK,
    SCORE,
    BulkInputError,
    Columns,
    Row,
    Where,
    group_key,
    iter_groups,
    row_label,
)

_LEFTOVER = re.compile(r"\.partial\.(\d+)$")


def leftovers(output: Path) -> list[Path]:
    """The ``NAME.partial.K`` files beside ``output``, by K."""
    found: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError):
        for entry in output.parent.iterdir():
            tail = entry.name[len(output.name) :]
            if entry.name.startswith(output.name) and (m := _LEFTOVER.fullmatch(tail)):
                found.append((int(m.group(1)), entry))
    return [path for _, path in sorted(found)]


def next_leftover(output: Path) -> Path:
    """A free ``NAME.partial.K``."""
    numbers = [int(p.name.rsplit(".", 1)[1]) for p in leftovers(output)]
    return output.with_name(f"{output.name}.partial.{1 + max(numbers, default=0)}")


def unfinished(output: Path) -> list[Path]:
    """What runs that did not finish left beside ``output``: its ``.partial`` and leftovers."""
    partial = partial_path(output)
    return ([partial] if partial.exists() else []) + leftovers(output)


def _cell(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    return f"{type(value).__name__}:{value!r}"


def fingerprint(key: str, rows: Sequence[Mapping[str, object]], columns: Columns) -> bytes:
    """What makes a query's rows the same: its id, query, passage ids and passages, in order."""
    digest = hashlib.blake2b(digest_size=16)
    query = rows[0].get(columns.query) if rows else None
    digest.update(f"{key}\x1f{_cell(query)}\x1e".encode("utf-8", "surrogatepass"))
    for row in rows:
        passage_id = row.get(columns.passage_id)
        parts = (
            "" if passage_id is None else group_key(passage_id),
            _cell(row.get(columns.query)),
            _cell(row.get(columns.passage)),
            _cell(row.get(columns.image)),
        )
        digest.update(("\x1f".join(parts) + "\x1e").encode("utf-8", "surrogatepass"))
    return digest.digest()


def _scores(rows: Sequence[Mapping[str, object]]) -> list[tuple[float, int, int]] | None:
    """Each row's score, rank and chunk, if every row has them and no error; else ``None``."""
    out: list[tuple[float, int, int]] = []
    for row in rows:
        if row.get(ERROR) not in (None, ""):
            return None
        try:
            score = float(row[SCORE])  # type: ignore[arg-type]
            rank = int(row[RANK])  # type: ignore[call-overload]
            chunk = int(row[CHUNK])  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError):
            return None
        out.append((score, rank, chunk))
    if sorted(rank for _, rank, _ in out) != list(range(1, len(out) + 1)):
        return None  # a cut group, or one written by something else
    return out


class _NotAnOutputError(BulkInputError):
    """A source without the columns of a bulk output: the wrong ``--output``."""


@dataclass(slots=True)
class _SourceGroup:
    ordinal: int
    key: str
    rows: list[Row]


def _source_groups(
    path: Path, fmt: str, columns: Columns, notes: list[str] | None
) -> Iterator[_SourceGroup]:
    """A source's groups in file order; a cut or unreadable tail ends it (and is noted)."""
    reader = TableRows(path, fmt)
    current: _SourceGroup | None = None
    ordinal = 0
    try:
        for row in reader:
            missing = next((c for c in (columns.query_id, SCORE) if c not in row), None)
            if missing is not None:
                raise _NotAnOutputError(
                    f"{path}: no column {missing!r}: not an output of reranker-nvidia bulk "
                    "(choose another --output)"
                )
            key = group_key(row[columns.query_id])
            if current is None or key != current.key:
                if current is not None:
                    yield current
                current = _SourceGroup(ordinal, key, [])
                ordinal += 1
            current.rows.append(row)
    except _NotAnOutputError:
        raise
    except BulkInputError as err:
        if notes is not None:
            notes.append(f"{err}; the queries from there on are scored again")
        return  # the group being read is cut: it is not a source
    if current is not None and not reader.torn:
        yield current


class _Source:
    """A source file, and the groups taken from it (by ordinal, increasing), read in order."""

    def __init__(self, path: Path, fmt: str, columns: Columns) -> None:
        self.path = path
        self.fmt = fmt
        self.columns = columns
        self._stream: Iterator[_SourceGroup] | None = None

    def take(self, ordinal: int) -> list[Row] | None:
        """The rows of the ``ordinal``-th group; the groups before it are passed over."""
        if self._stream is None:
            self._stream = _source_groups(self.path, self.fmt, self.columns, None)
        for group in self._stream:
            if group.ordinal == ordinal:
                return group.rows
            if group.ordinal > ordinal:
                return None
        return None


def _increasing(positions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``(input position, ordinal)`` pairs increasing in input position."""
    tails: list[int] = []  # the input position ending each run length, smallest first
    ends: list[int] = []  # the index (in positions) ending each run length
    before: list[int] = [-1] * len(positions)
    for i, (position, _) in enumerate(positions):
        length = bisect.bisect_left(tails, position)
        if length == len(tails):
            tails.append(position)
            ends.append(i)
        else:
            tails[length] = position
            ends[length] = i
        before[i] = ends[length - 1] if length else -1
    kept: list[tuple[int, int]] = []
    i = ends[-1] if ends else -1
    while i >= 0:
        kept.append(positions[i])
        i = before[i]
    return kept[::-1]


@dataclass
class Resume:
    """What a resume takes from its sources: ``carried`` gives the rows of a query done."""

    columns: Columns
    sources: list[_Source]
    provider: dict[str, tuple[int, int]]
    """Each query done: which source holds it, and its ordinal there."""
    notes: list[str]
    """What could not be read in the sources, one line each."""

    def carried(self, key: str, rows: list[Row]) -> list[Row] | None:
        """The output rows of a query done, from its source; ``None``: score it."""
        found = self.provider.get(key)
        if found is None:
            return None
        source, ordinal = found
        written = self.sources[source].take(ordinal)
        if written is None:
            return None
        scores = _scores(written)
        same = fingerprint(key, written, self.columns) == fingerprint(key, rows, self.columns)
        if scores is None or not same:
            return None
        out: list[Row] = [
            {**row, SCORE: score, RANK: rank, CHUNK: chunk, ERROR: None}
            for row, (score, rank, chunk) in zip(rows, scores, strict=True)
        ]
        for row, old in zip(out, written, strict=True):
            for name in USAGE_COLUMNS:  # the token counts of a usage run's output
                if name in old:
                    row[name] = old[name]
        return out


def plan_resume(
    rows: Iterable[Mapping[str, object]],
    sources: Sequence[Path],
    fmt: str,
    columns: Columns,
    where: Where = row_label,
) -> Resume:
    """Read the input and each source once, and choose where each query done is taken from.

    Each source gives the longest run of its valid groups that follows the
    input's order (an output written by this version: all of them), so that
    every source is read once, forward, while the output is written in the
    input's order; a query two sources hold is taken from the first.
    """
    inputs: dict[str, tuple[int, bytes]] = {}
    by_position: dict[int, str] = {}
    for position, group in enumerate(iter_groups(rows, columns, where=where)):
        if group.error is None:
            inputs[group.key] = (position, fingerprint(group.key, group.rows, columns))
            by_position[position] = group.key
    notes: list[str] = []
    provider: dict[str, tuple[int, int]] = {}
    opened: list[_Source] = []
    for index, path in enumerate(sources):
        opened.append(_Source(path, fmt, columns))
        candidates: list[tuple[int, int]] = []
        for found in _source_groups(path, fmt, columns, notes):
            expected = inputs.get(found.key)
            if (
                expected is not None
                and fingerprint(found.key, found.rows, columns) == expected[1]
                and _scores(found.rows) is not None
            ):
                candidates.append((expected[0], found.ordinal))
        for position, ordinal in _increasing(candidates):
            provider.setdefault(by_position[position], (index, ordinal))
    return Resume(columns, opened, provider, notes)
