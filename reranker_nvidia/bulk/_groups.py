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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from reranker_nvidia.clients.ranker import MAX_DOCUMENTS, chunk_documents
from reranker_nvidia.errors import ConfigError
from reranker_nvidia.extensions.images import Passage

SCORE, RANK, CHUNK, ERROR = "score", "rank", "chunk", "error"
OUTPUT_COLUMNS = (SCORE, RANK, CHUNK, ERROR)
"""What each output row adds to its input row."""

Row = dict[str, object]
Document = str | Passage


class BulkInputError(ConfigError):
    """A table the bulk path cannot read: a missing column, a query's rows not together, …"""


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


def group_key(value: object) -> str:
    """A query id as text, the same whether read from CSV, JSON Lines or Parquet."""
    return value if isinstance(value, str) else str(value)


@dataclass(slots=True)
class Group:
    """One query's rows, in input order."""

    key: str
    query: str
    rows: list[Row] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)


@dataclass(slots=True)
class ScoredGroup:
    """A group's output rows; ``error`` is the group's failure (then no row has a score)."""

    key: str
    rows: list[Row]
    error: str | None
    requests: int


def _document(row: Mapping[str, object], columns: Columns, number: int) -> Document:
    text = row[columns.passage]
    image = row.get(columns.image)
    if text is not None and not isinstance(text, str):
        raise BulkInputError(
            f"row {number}: {columns.passage!r} must be text, not {type(text).__name__}"
        )
    if image is None or image == "":
        if text is None:
            raise BulkInputError(
                f"row {number}: {columns.passage!r} is empty and there is no image"
            )
        return text
    if not isinstance(image, str):
        raise BulkInputError(
            f"row {number}: {columns.image!r} must be a data: URL, not {type(image).__name__}"
        )
    return Passage(text=text or None, image=image)


def iter_groups(
    rows: Iterable[Mapping[str, object]],
    columns: Columns = Columns(),
    *,
    seen: set[str] | None = None,
    first_row: int = 1,
) -> Iterator[Group]:
    """The groups of ``rows``, one at a time, in input order.

    ``seen`` holds the query ids of the groups read so far (kept across calls
    that read one table in parts); rows are numbered from ``first_row``.
    """
    seen = set() if seen is None else seen
    current: Group | None = None
    for number, row in enumerate(rows, first_row):
        missing = [name for name in columns.required() if name not in row]
        if missing:
            raise BulkInputError(f"row {number}: no column {', '.join(map(repr, missing))}")
        key = group_key(row[columns.query_id])
        query = row[columns.query]
        if not isinstance(query, str):
            raise BulkInputError(
                f"row {number}: {columns.query!r} must be text, not {type(query).__name__}"
            )
        if current is None or key != current.key:
            if current is not None:
                yield current
            if key in seen:
                raise BulkInputError(
                    f"row {number}: the rows of query {key!r} are not together; "
                    f"sort the input by {columns.query_id!r}"
                )
            seen.add(key)
            current = Group(key=key, query=query)
        elif query != current.query:
            raise BulkInputError(
                f"row {number}: query {key!r} has two query texts; one query id, one query"
            )
        current.documents.append(_document(row, columns, number))
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


def scored(group: Group, scores: Sequence[float], max_documents: int) -> ScoredGroup:
    """The group's rows with their scores, ranks and chunks."""
    chunks = chunk_numbers(group.documents, max_documents)
    rows = [
        {**row, SCORE: score, RANK: rank, CHUNK: chunk, ERROR: None}
        for row, score, rank, chunk in zip(group.rows, scores, ranks(scores), chunks, strict=True)
    ]
    return ScoredGroup(group.key, rows, None, (chunks[-1] + 1) if chunks else 0)


def failed(group: Group, error: str, max_documents: int) -> ScoredGroup:
    """The group's rows with its error and no score: a failure is never a score."""
    chunks = chunk_numbers(group.documents, max_documents)
    rows = [
        {**row, SCORE: None, RANK: None, CHUNK: chunk, ERROR: error}
        for row, chunk in zip(group.rows, chunks, strict=True)
    ]
    return ScoredGroup(group.key, rows, error, 0)
