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

from reranker_nvidia.clients.ranker import MAX_DOCUMENTS, chunk_documents
from reranker_nvidia.errors import ConfigError, RerankerError
from reranker_nvidia.extensions.images import Passage
from reranker_nvidia.modulecomponents.ent.rank_result import Usage

SCORE, RANK, CHUNK, ERROR = "score", "rank", "chunk", "error"
OUTPUT_COLUMNS = (SCORE, RANK, CHUNK, ERROR)
"""What each output row adds to its input row."""

Row = dict[str, object]
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


def group_key(value: object) -> str:
    """A query id as text, the same whether read from CSV, JSON Lines or Parquet."""
    return value if isinstance(value, str) else str(value)


@dataclass(slots=True)
class Group:
    """One query's rows, in input order; ``error`` is a bad cell's, which fails it unsent."""

    key: str
    query: str
    rows: list[Row] = field(default_factory=list)
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
    rows: list[Row]
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
) -> Iterator[Group]:
    """The groups of ``rows``, one at a time, in input order.

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
    current: Group | None = None
    for number, row in enumerate(rows, first_row):
        if number == 1:
            missing = [name for name in columns.required() if name not in row]
            if missing:
                names = ", ".join(map(repr, missing))
                raise BulkInputError(f"{where(number)}: no column {names}")
        if columns.query_id not in row:
            raise BulkInputError(f"{where(number)}: no column {columns.query_id!r}")
        key = group_key(row[columns.query_id])
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


def scored(
    group: Group, scores: Sequence[float], max_documents: int, min_score: float | None = None
) -> ScoredGroup:
    """The group's rows with their scores, ranks and chunks.

    With ``min_score`` (D-EXT-SCORES) the rows scoring below it are left out, after the
    ranking: the rows kept are the query's best, ranked 1 to k, in input order.
    """
    chunks = chunk_numbers(group.documents, max_documents)
    rows = [
        {**row, SCORE: score, RANK: rank, CHUNK: chunk, ERROR: None}
        for row, score, rank, chunk in zip(group.rows, scores, ranks(scores), chunks, strict=True)
    ]
    requests = (chunks[-1] + 1) if chunks else 0
    if min_score is None:
        return ScoredGroup(group.key, rows, None, requests)
    kept = [row for row, score in zip(rows, scores, strict=True) if score >= min_score]
    return ScoredGroup(group.key, kept, None, requests, dropped=len(rows) - len(kept))


def not_reranked(group: Group, error: str, max_documents: int) -> ScoredGroup:
    """A group the client failed open on (D-EXT-FAIL-OPEN): its rows in input order, each
    with no score or rank and the error that kept it from being reranked."""
    chunks = chunk_numbers(group.documents, max_documents)
    rows = [
        {**row, SCORE: None, RANK: None, CHUNK: chunk, ERROR: error}
        for row, chunk in zip(group.rows, chunks, strict=True)
    ]
    return ScoredGroup(group.key, rows, None, 0, reranked=False)


def failed(
    group: Group,
    error: str,
    max_documents: int,
    *,
    kind: str = "error",
    hint: str | None = None,
) -> ScoredGroup:
    """The group's rows with its error and no score: a failure is never a score."""
    chunks = chunk_numbers(group.documents, max_documents)
    rows = [
        {**row, SCORE: None, RANK: None, CHUNK: chunk, ERROR: error}
        for row, chunk in zip(group.rows, chunks, strict=True)
    ]
    return ScoredGroup(group.key, rows, error, 0, kind=kind, hint=hint)


def error_kind(err: BaseException) -> str:
    """A failure's kind: its class, and its HTTP status if it has one (``UpstreamError 404``)."""
    status = getattr(err, "status", None)
    name = type(err).__name__
    return f"{name} {status}" if isinstance(status, int) else name
