"""The bulk path: rerank a long-form table of (query, passage) rows. Ours alone (D-EXT-BULK).

Weaviate reranks one search at a time; this package scores whole tables
through the same :class:`~reranker_nvidia.Client`: rows are grouped per query,
each group is one ``Client.rank`` call (chunked as it chunks, the chunk
recorded per row), and a failed group is recorded with its error, never as a
score. JSON Lines and CSV need only the core; Parquet and Arrow need the
``parquet`` extra; :mod:`reranker_nvidia.bulk.ray` (the ``ray`` extra) runs it
on Ray Data. docs/bulk.md describes it all.
"""

from reranker_nvidia.bulk._columnar import USAGE_COLUMNS, ArrowRows
from reranker_nvidia.bulk._config import ClientConfig
from reranker_nvidia.bulk._formats import BulkOutputError, format_of, open_writer, read_rows
from reranker_nvidia.bulk._groups import (
    OUTPUT_COLUMNS,
    BulkInputError,
    BulkStoppedError,
    Columns,
    ScoredGroup,
)
from reranker_nvidia.bulk._run import (
    DEFAULT_CONCURRENCY,
    AsyncBulkRun,
    BulkRun,
    BulkSummary,
    ErrorCount,
    arerank_table,
    rerank_table,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "OUTPUT_COLUMNS",
    "USAGE_COLUMNS",
    "ArrowRows",
    "AsyncBulkRun",
    "BulkInputError",
    "BulkOutputError",
    "BulkRun",
    "BulkStoppedError",
    "BulkSummary",
    "ClientConfig",
    "Columns",
    "ErrorCount",
    "ScoredGroup",
    "arerank_table",
    "format_of",
    "open_writer",
    "read_rows",
    "rerank_table",
]
