"""Rows grouped per query, chunked as ``Client.rank`` chunks, and the scored rows of each group.

A group is a run of consecutive rows with the same query id; the rows of one
query must be consecutive (sort the input by query id first), so a table of any
size is read with one group in memory at a time. Each group is one
``Client.rank`` call: its passages, in input order, are cut into chunks of
``max_documents`` by :func:`~reranker_nvidia.clients.ranker.chunk_documents`,
and each row's ``chunk`` says which of those requests scored it. NIM's scores
can depend on the other passages of a request, so the chunk is recorded, and it
is the same whatever the run's concurrency, process count or resume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reranker_nvidia.bulk._columnar import (
    CHUNK,
    ERROR,
    OUTPUT_COLUMNS,
    RANK,
    SCORE,
    Added,
    ArrowRows,
    Extra,
    Row,
    arrow_ranks,
    group_key,
    plain_documents,
    runs,
)
from reranker_nvidia.clients.ranker import MAX_DOCUMENTS, chunk_documents
from reranker_nvidia.errors import ConfigError, RerankerError
from reranker_nvidia.extensions.images import Passage
from reranker_nvidia.modulecomponents.ent.rank_result import Usage

__all__ = [
    "CHUNK",
    "ERROR",
    "OUTPUT_COLUMNS",
    "RANK",
    "SCORE",
    "Row",
    "group_key",
]

Document = str | Passage


class BulkInputError(ConfigError):
    """A table the bulk path cannot read or write: a missing column, a query's rows not together,
    a file that is not of its format, a disk that is full, …"""


class BulkStoppedError(RerankerError):
    """A run stopped early: ``stop_after`` queries in a row failed with the same kind of error.

    The message names the kind and quotes the last such error; ``hint`` is that
    error's hint, if it has one.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Columns:
    """The names of the input columns; ``image`` is used only where a row has it."""

    query_id: str = "query_id"
    query: str = "query"
    passage_id: str = "passage_id"
    passage: str = "passage"
    image: str = "image"

    def required(self) -> tuple[str, ...]:
        return (self.query_id, self.query, self.passage_id, self.passage)


@dataclass(slots=True)
class Group:
    """One query's rows, in input order; ``error`` is a bad cell's, which fails it unsent."""

    key: str
    query: str
    rows: list[Row] | ArrowRows = field(default_factory=list)
    """Dicts, or Arrow (a table's rows, kept as read: :class:`ArrowRows`)."""
    documents: list[Document] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class ScoredGroup:
    """A group's output rows; ``error`` is the group's failure (then no row has a score).

    ``kind`` names the failure's kind (its error class, and the HTTP status when
    there is one) and ``hint`` is the error's hint, if it has one. ``carried``
    is true for a group an earlier output held (``rerank_table(carried=…)``):
    nothing was sent for it. ``usage`` is what its ``Client.rank`` call cost, with
    ``usage=True`` (D-EXT-USAGE): its requests, cache hits and NIM's token counts.
    """

    key: str
    rows: Sequence[Row]
    """A list of dicts, or :class:`ArrowRows` (Arrow, made into dicts only when read so)."""
    error: str | None
    requests: int
    kind: str | None = None
    hint: str | None = None
    carried: bool = False
    reranked: bool = True
    """``False`` for a group the client failed open on (``on_error="input_order"``,
    D-EXT-FAIL-OPEN): its rows in input order, no score, the error on each; not a failure."""
    dropped: int = 0
    """Rows left out because they scored below ``min_score`` (D-EXT-SCORES)."""
    usage: Usage | None = None


Where = Callable[[int], str]
"""The user's name for a row, from its number (1-based): ``row 5``, or ``line 7`` of a file."""


def row_label(number: int) -> str:
    return f"row {number}"


@dataclass(frozen=True, slots=True)
class _Bad:
    """What is wrong with a row's cells: the message, naming the row."""

    message: str


def _document(row: Mapping[str, object], columns: Columns, label: str) -> Document | _Bad:
    """The row's document, or what is wrong with its cells."""
    if columns.passage not in row:
        return _Bad(f"{label}: no column {columns.passage!r}")
    text = row[columns.passage]
    image = row.get(columns.image)
    if text is not None and not isinstance(text, str):
        return _Bad(f"{label}: {columns.passage!r} must be text, not {type(text).__name__}")
    if image is None or image == "":
        if text is None:
            return _Bad(f"{label}: {columns.passage!r} is empty and there is no image")
        return text
    if not isinstance(image, str):
        return _Bad(f"{label}: {columns.image!r} must be a data: URL, not {type(image).__name__}")
    return Passage(text=text or None, image=image)


def _bad_query(row: Mapping[str, object], columns: Columns, label: str) -> str | None:
    if columns.query not in row:
        return f"{label}: no column {columns.query!r}"
    query = row[columns.query]
    if not isinstance(query, str):
        return f"{label}: {columns.query!r} must be text, not {type(query).__name__}"
    return None


def iter_groups(
    rows: Iterable[Mapping[str, object]],
    columns: Columns = Columns(),
    *,
    seen: set[str] | None = None,
    first_row: int = 1,
    where: Where = row_label,
    key: str | None = None,
) -> Iterator[Group]:
    """The groups of ``rows``, one at a time, in input order.

    ``key``: every row is known to have this query id (one group; it is not worked out
    again for each row).

    ``seen`` holds the query ids of the groups read so far (kept across calls
    that read one table in parts); rows are numbered from ``first_row``, and
    ``where`` names a row in messages (its line in a file). A column missing
    from the table (its first row), a row without a query id, or a query's rows
    not together stop the reading: a ``BulkInputError``. A bad cell (a query or
    passage that is not text, no passage and no image, two query texts for one
    query id) fails only its query: the group comes with its ``error``, and is
    not sent.
    """
    seen = set() if seen is None else seen
    known = key
    current: Group | None = None
    for number, row in enumerate(rows, first_row):
        if number == 1:
            missing = [name for name in columns.required() if name not in row]
            if missing:
                names = ", ".join(map(repr, missing))
                raise BulkInputError(f"{where(number)}: no column {names}")
        if columns.query_id not in row:
            raise BulkInputError(f"{where(number)}: no column {columns.query_id!r}")
        key = known if known is not None else group_key(row[columns.query_id])
        query = row.get(columns.query)
        if current is None or key != current.key:
            if current is not None:
                yield current
            if key in seen:
                raise BulkInputError(
                    f"{where(number)}: the rows of query {key!r} are not together; "
                    f"sort the input by {columns.query_id!r}"
                )
            seen.add(key)
            bad = _bad_query(row, columns, where(number))
            current = Group(key=key, query=query if isinstance(query, str) else "", error=bad)
        elif query != current.query and current.error is None:
            bad = _bad_query(row, columns, where(number))
            current.error = bad or (
                f"{where(number)}: query {key!r} has two query texts; one query id, one query"
            )
        document = _document(row, columns, where(number))
        if isinstance(document, _Bad):
            if current.error is None:
                current.error = document.message
            document = ""  # a place holder: the group is not sent
        current.documents.append(document)
        assert isinstance(current.rows, list)  # rows read one at a time are dicts
        current.rows.append(dict(row))
    if current is not None:
        yield current


def chunk_numbers(documents: Sequence[Document], max_documents: int = MAX_DOCUMENTS) -> list[int]:
    """Which request of ``Client.rank`` sends each document: its chunk, counted from 0."""
    numbers: list[int] = []
    for number, chunk in enumerate(chunk_documents(documents, max_documents)):
        numbers.extend([number] * len(chunk))
    return numbers


def ranks(scores: Sequence[float]) -> list[int]:
    """Each score's rank in its query, from 1 (the highest); equal scores keep input order."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    out = [0] * len(scores)
    for rank, index in enumerate(order, 1):
        out[index] = rank
    return out


def _output(group: Group, added: Added, extra: Extra | None) -> list[Row] | ArrowRows:
    """The group's rows with the output's columns (and ``extra``): dicts, or still Arrow."""
    if isinstance(group.rows, ArrowRows):
        return group.rows.with_output(added, extra)
    scores, ranks_, chunks, errors = added
    rows: list[Row] = [
        {**row, SCORE: score, RANK: rank, CHUNK: chunk, ERROR: error}
        for row, score, rank, chunk, error in zip(
            group.rows, scores, ranks_, chunks, errors, strict=True
        )
    ]
    for name, values in (extra or {}).items():
        for row, value in zip(rows, values, strict=True):
            row[name] = value
    return rows


def scored(
    group: Group,
    scores: Sequence[float],
    max_documents: int,
    min_score: float | None = None,
    extra: Extra | None = None,
) -> ScoredGroup:
    """The group's rows with their scores, ranks and chunks.

    With ``min_score`` (D-EXT-SCORES) the rows scoring below it are left out, after the
    ranking: the rows kept are the query's best, ranked 1 to k, in input order.
    """
    chunks = chunk_numbers(group.documents, max_documents)
    count = len(group.rows)
    if len(scores) != count or len(chunks) != count:
        raise ValueError("one score and one chunk per row")
    order = arrow_ranks(scores) if isinstance(group.rows, ArrowRows) and scores else None
    rows = _output(group, (scores, order or ranks(scores), chunks, [None] * count), extra)
    requests = (chunks[-1] + 1) if chunks else 0
    if min_score is None:
        return ScoredGroup(group.key, rows, None, requests)
    mask = [score >= min_score for score in scores]
    if isinstance(rows, ArrowRows):
        kept: Sequence[Row] = rows.kept(mask)
    else:
        kept = [row for row, keep in zip(rows, mask, strict=True) if keep]
    return ScoredGroup(group.key, kept, None, requests, dropped=count - len(kept))


def _unscored(group: Group, error: str, max_documents: int, extra: Extra | None) -> Sequence[Row]:
    chunks = chunk_numbers(group.documents, max_documents)
    count = len(group.rows)
    if len(chunks) != count:
        raise ValueError("one chunk per row")
    return _output(group, ([None] * count, [None] * count, chunks, [error] * count), extra)


def not_reranked(
    group: Group, error: str, max_documents: int, extra: Extra | None = None
) -> ScoredGroup:
    """A group the client failed open on (D-EXT-FAIL-OPEN): its rows in input order, each
    with no score or rank and the error that kept it from being reranked."""
    rows = _unscored(group, error, max_documents, extra)
    return ScoredGroup(group.key, rows, None, 0, reranked=False)


def failed(
    group: Group,
    error: str,
    max_documents: int,
    *,
    kind: str = "error",
    hint: str | None = None,
    extra: Extra | None = None,
) -> ScoredGroup:
    """The group's rows with its error and no score: a failure is never a score."""
    rows = _unscored(group, error, max_documents, extra)
    return ScoredGroup(group.key, rows, error, 0, kind=kind, hint=hint)


class Grouper:
    """Cuts rows into groups as they come: mappings one at a time, Arrow record batches whole.

    :meth:`push` takes one item and gives the groups it completed, then the error it
    found, if any (the groups read before an error are given first, as a reader would
    yield them); :meth:`finish` gives the last group. A batch's groups stay Arrow
    (:class:`ArrowRows`) when their cells are plain; any other group is read row by row
    by :func:`iter_groups`, so every error is worded, and numbered, as it always was.
    """

    def __init__(
        self,
        columns: Columns = Columns(),
        *,
        seen: set[str] | None = None,
        first_row: int = 1,
        where: Where = row_label,
    ) -> None:
        self.columns = columns
        self.seen = set() if seen is None else seen
        self.where = where
        self.read = first_row - 1
        """Rows read so far (the last row's number)."""
        self._key: str | None = None
        self._first = 0
        self._pieces: list[Any] = []  # Arrow slices and lists of row mappings, in order

    def push(self, item: Mapping[str, object] | Any) -> list[Group | BulkInputError]:
        out: list[Group | BulkInputError] = []
        try:
            if type(item) is dict or isinstance(item, Mapping):
                self._row(item, out)
            else:
                self._batch(item, out)
        except BulkInputError as err:
            out.append(err)
        return out

    def feed(self, items: Iterable[Mapping[str, object] | Any]) -> Iterator[Group | BulkInputError]:
        """:meth:`push` for each of ``items``, then :meth:`finish`: every group, in order."""
        name = self.columns.query_id
        for item in items:
            if type(item) is dict and self.read and name in item:  # the common case, inline
                value = item[name]
                key = value if type(value) is str else group_key(value)
                pieces = self._pieces
                if key == self._key and type(pieces[-1]) is list:
                    self.read += 1
                    pieces[-1].append(item)
                    continue
            yield from self.push(item)
        yield from self.finish()

    def finish(self) -> list[Group]:
        if self._key is None:
            return []
        group = self._group()
        self._key, self._pieces = None, []
        return [group]

    def _row(self, row: Mapping[str, object], out: list[Group | BulkInputError]) -> None:
        number = self.read + 1
        self.read = number
        if number == 1:
            missing = [name for name in self.columns.required() if name not in row]
            if missing:
                names = ", ".join(map(repr, missing))
                raise BulkInputError(f"{self.where(number)}: no column {names}")
        if self.columns.query_id not in row:
            raise BulkInputError(f"{self.where(number)}: no column {self.columns.query_id!r}")
        value = row[self.columns.query_id]
        key = value if type(value) is str else group_key(value)
        if key == self._key and type(self._pieces[-1]) is list:
            self._pieces[-1].append(row)  # the common case: one more row of the query
        else:
            self._add(key, number, [row], out)

    def _batch(self, batch: Any, out: list[Group | BulkInputError]) -> None:
        first = self.read + 1
        count = int(batch.num_rows)
        if not count:
            return
        names = batch.schema.names
        if first == 1:
            missing = [name for name in self.columns.required() if name not in names]
            if missing:
                self.read = first
                raise BulkInputError(f"{self.where(1)}: no column {', '.join(map(repr, missing))}")
        if self.columns.query_id not in names:
            self.read = first
            raise BulkInputError(f"{self.where(first)}: no column {self.columns.query_id!r}")
        for start, end, value in runs(batch, self.columns.query_id):
            self.read = first + end - 1
            self._add(group_key(value), first + start, batch.slice(start, end - start), out)

    def _add(self, key: str, number: int, piece: Any, out: list[Group | BulkInputError]) -> None:
        if self._key is None or key != self._key:
            if self._key is not None:
                out.append(self._group())
            self._key, self._pieces = None, []
            if key in self.seen:
                raise BulkInputError(
                    f"{self.where(number)}: the rows of query {key!r} are not together; "
                    f"sort the input by {self.columns.query_id!r}"
                )
            self.seen.add(key)
            self._key, self._first = key, number
        if type(piece) is list and self._pieces and type(self._pieces[-1]) is list:
            self._pieces[-1].extend(piece)
        else:
            self._pieces.append(piece)

    def _group(self) -> Group:
        assert self._key is not None
        table = _arrow_table(self._pieces)
        if table is not None:
            plain = plain_documents(table, self.columns)
            if plain is not None:
                query, documents = plain
                return Group(self._key, query, ArrowRows(table), list(documents))
        if len(self._pieces) == 1 and type(self._pieces[0]) is list:
            rows: list[Mapping[str, object]] = self._pieces[0]  # rows given as rows
        else:
            rows = []
            for piece in self._pieces:
                rows.extend(piece if type(piece) is list else piece.to_pylist())
        groups = iter_groups(
            rows, self.columns, seen=set(), first_row=self._first, where=self.where, key=self._key
        )
        group = next(groups)
        if table is not None:
            group.rows = ArrowRows(table)  # the same rows, written from Arrow
        return group


def _arrow_table(pieces: list[Any]) -> Any | None:
    """The pieces as one Arrow table, if they are all slices of batches of one schema."""
    if not pieces or type(pieces[0]) is list:
        return None
    schema = pieces[0].schema
    if any(type(p) is list or not p.schema.equals(schema) for p in pieces):
        return None
    import pyarrow as pa  # noqa: PLC0415 - only Arrow batches come here

    return pa.Table.from_batches(pieces, schema=schema)


def error_kind(err: BaseException) -> str:
    """A failure's kind: its class, and its HTTP status if it has one (``UpstreamError 404``)."""
    status = getattr(err, "status", None)
    name = type(err).__name__
    return f"{name} {status}" if isinstance(status, int) else name
