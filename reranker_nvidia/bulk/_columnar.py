"""A group's rows kept as Arrow: cut from record batches by query id, scored, written as arrays.

Parquet and Arrow tables are read in record batches, and the bulk path keeps
them so: the runs of one query id are found with ``pyarrow.compute`` and sliced
off their batch, a query's passages go to ``Client.rank`` as one column
(``to_pylist`` of it), and the output adds ``score``, ``rank``, ``chunk`` and
``error`` to the slice as arrays. :class:`ArrowRows` holds that, and gives the
rows as dicts only to a caller that asks for them (``for row in run``, a JSON
Lines or CSV output, a resume): the same dicts the row path makes.

Only the plain case is taken here: a query id column of integers or text with
no null, a query column of text, one query text per query, a passage column of
text with no null, and no image. Anything else (a bad cell, an image, a null
id, two batches of different schemas) goes by the row path, which words every
error as it always has.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast, overload

if TYPE_CHECKING:
    from reranker_nvidia.bulk._groups import Columns

SCORE, RANK, CHUNK, ERROR = "score", "rank", "chunk", "error"
OUTPUT_COLUMNS = (SCORE, RANK, CHUNK, ERROR)
"""What each output row adds to its input row."""
USAGE_COLUMNS = ("prompt_tokens", "total_tokens")
"""What it adds after them with ``usage=True`` (D-EXT-USAGE): its query's token counts."""

Row = dict[str, object]


def group_key(value: object) -> str:
    """A query id as text, the same whether read from CSV, JSON Lines or Parquet."""
    return value if isinstance(value, str) else str(value)


Added = tuple[Sequence[float | None], Sequence[int | None], Sequence[int], Sequence[str | None]]
"""The output's own columns, one value per row: score, rank, chunk, error."""

Extra = Mapping[str, Sequence[object]]
"""More output columns, one value per row (the usage columns), after the four."""


class ArrowRows(Sequence[Row]):
    """Rows held as an Arrow table (the input's columns) and the columns the output adds.

    ``len()`` is cheap; indexing or iterating makes the rows as dicts, once, exactly as the
    row path makes them: the input row, then ``score``, ``rank``, ``chunk`` and ``error``.
    """

    __slots__ = ("_rows", "added", "extra", "table")

    def __init__(self, table: Any, added: Added | None = None, extra: Extra | None = None) -> None:
        self.table = table
        self.added = added
        self.extra = extra or {}
        self._rows: list[Row] | None = None

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def rows(self) -> list[Row]:
        """The rows as dicts (made on first use, then kept)."""
        if self._rows is None:
            rows: list[Row] = self.table.to_pylist()
            if self.added is not None:
                scores, ranks, chunks, errors = self.added
                rows = [
                    {**row, SCORE: score, RANK: rank, CHUNK: chunk, ERROR: error}
                    for row, score, rank, chunk, error in zip(
                        rows, scores, ranks, chunks, errors, strict=True
                    )
                ]
                for name, values in self.extra.items():
                    for row, value in zip(rows, values, strict=True):
                        row[name] = value
            self._rows = rows
        return self._rows

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        return self.rows()[index]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self.rows() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ArrowRows({len(self)} rows)"

    def with_output(self, added: Added, extra: Extra | None = None) -> ArrowRows:
        """These rows with the output's columns."""
        return ArrowRows(self.table, added, extra)

    def kept(self, mask: Sequence[bool]) -> ArrowRows:
        """The rows where ``mask`` is true."""
        import pyarrow as pa  # noqa: PLC0415 - only Arrow tables come here

        table = self.table.filter(pa.array(mask, pa.bool_()))
        added: Added | None = None
        if self.added is not None:
            scores, ranks, chunks, errors = (
                [value for value, keep in zip(column, mask, strict=True) if keep]
                for column in self.added
            )
            added = cast(Added, (scores, ranks, chunks, errors))
        extra: Extra = {
            name: [value for value, keep in zip(values, mask, strict=True) if keep]
            for name, values in self.extra.items()
        }
        return ArrowRows(table, added, extra)

    def output(self, schema: Any) -> Any | None:
        """The output table in ``schema`` (the writer's), or ``None`` if it does not fit it.

        The input's columns but those the output replaces, then the output's own, as
        arrays; ``None`` (the caller takes the rows) when a name or a type differs.
        """
        if self.added is None:
            return None
        import pyarrow as pa  # noqa: PLC0415

        table = self.table
        names = [n for n in table.column_names if n not in OUTPUT_COLUMNS and n not in self.extra]
        scores, ranks, chunks, errors = self.added
        columns = [table.column(n) for n in names]
        try:
            columns += [
                pa.array(scores, pa.float64()),
                pa.array(ranks, pa.int64()),
                pa.array(chunks, pa.int64()),
                pa.array(errors, pa.string()),
            ]
            added = [*OUTPUT_COLUMNS, *self.extra]
            if [*names, *added] != list(schema.names):
                return None
            for name in self.extra:
                columns.append(pa.array(self.extra[name], schema.field(name).type))
            return pa.Table.from_arrays(columns, schema=schema)
        except (pa.ArrowException, TypeError, ValueError):
            return None


def _plain_key(kind: Any) -> bool:
    import pyarrow as pa  # noqa: PLC0415

    t = pa.types
    return bool(t.is_integer(kind) or t.is_string(kind) or t.is_large_string(kind))


def _text(kind: Any) -> bool:
    import pyarrow as pa  # noqa: PLC0415

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def runs(batch: Any, name: str) -> list[tuple[int, int, object]]:
    """The runs of one query id in ``batch``: ``(start, end, id)``, in order.

    Integer and text ids without nulls are compared by ``pyarrow.compute``; any other
    column by its values as text, as the row path compares them.
    """
    import pyarrow.compute as pc  # noqa: PLC0415

    ids = batch.column(name)
    count = len(ids)
    if not count:
        return []
    if _plain_key(ids.type) and not ids.null_count:
        if count == 1:
            starts = [0]
        else:
            changed = pc.not_equal(ids.slice(1), ids.slice(0, count - 1))
            starts = [0, *(i + 1 for i in pc.indices_nonzero(changed).to_pylist())]
        values = ids.take(starts).to_pylist()
    else:
        keys = [group_key(v) for v in ids.to_pylist()]
        starts = [i for i in range(count) if i == 0 or keys[i] != keys[i - 1]]
        values = [keys[i] for i in starts]
    ends = [*starts[1:], count]
    return list(zip(starts, ends, values, strict=True))


def plain_documents(table: Any, columns: Columns) -> tuple[str, list[str]] | None:
    """A group's query and passages, when every cell is plain; ``None``: take the row path."""
    import pyarrow.compute as pc  # noqa: PLC0415

    names = table.column_names
    if columns.query not in names or columns.passage not in names or not table.num_rows:
        return None
    query, passage = table.column(columns.query), table.column(columns.passage)
    if not (_text(query.type) and _text(passage.type)) or query.null_count or passage.null_count:
        return None
    if columns.image in names and table.column(columns.image).null_count != table.num_rows:
        return None
    first = query[0].as_py()
    if table.num_rows > 1 and not pc.all(pc.equal(query, first)).as_py():
        return None
    return first, passage.to_pylist()


def arrow_ranks(scores: Sequence[float]) -> list[int] | None:
    """Each score's rank, from 1 (the highest), equal scores in input order, by
    ``pyarrow.compute.rank``: the ranks :func:`~reranker_nvidia.bulk._groups.ranks` gives.
    ``None`` when a score is NaN (whose order only the row path's sort defines)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    values = pa.array(scores, pa.float64())
    if values.null_count or pc.any(pc.is_nan(values)).as_py():
        return None
    ranked: list[int] = pc.rank(values, sort_keys="descending", tiebreaker="first").to_pylist()
    return ranked
