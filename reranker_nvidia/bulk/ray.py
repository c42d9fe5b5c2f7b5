"""The bulk path on Ray Data: a callable class for ``map_batches`` / ``map_groups`` (D-EXT-BULK).

Needs the ``ray`` extra (``ray[data]``, pyarrow, pandas), imported only when
used. Each actor builds its own :class:`~reranker_nvidia.Client` from a
picklable :class:`~reranker_nvidia.bulk.ClientConfig`, with ``1/actors`` of
the config's requests-per-minute budget, and scores the groups of each batch
it is given exactly as :func:`~reranker_nvidia.bulk.rerank_table` does.

A batch must hold whole queries: :func:`rerank_dataset` groups the dataset by
query id (``groupby(...).map_groups``), so each call gets one whole query.
"""

from __future__ import annotations

from typing import Any, Self, cast

from reranker_nvidia.bulk._config import ClientConfig
from reranker_nvidia.bulk._groups import CHUNK, ERROR, RANK, SCORE, Columns, Row
from reranker_nvidia.bulk._run import rerank_table

DEFAULT_COLUMNS = Columns()


class Reranker:
    """Score a batch of whole queries; a pyarrow ``Table`` or pandas ``DataFrame`` in and out.

    ``actors`` is how many copies Ray runs (the ``concurrency`` given to
    ``map_batches``): each takes ``requests_per_minute / actors``. ``order_by``
    names a column to order each query's rows by before chunking (Ray's
    grouping keeps input order in practice; a position column makes it sure).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        actors: int = 1,
        columns: Columns = DEFAULT_COLUMNS,
        concurrency: int | None = None,
        order_by: str | None = None,
    ) -> None:
        self.config = config.share(actors)
        self.columns = columns
        self.order_by = order_by
        self.concurrency = concurrency
        self._client = self.config.client()

    def close(self) -> None:
        """Close the client's connections (an actor's go with its process)."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa  # noqa: PLC0415 - the ray extra

        if isinstance(batch, pa.Table):
            return self._table(batch)
        if hasattr(batch, "to_dict") and hasattr(batch, "columns"):  # pandas
            import pandas as pd  # noqa: PLC0415

            scored = self._table(pa.Table.from_pandas(batch, preserve_index=False))
            frame: pd.DataFrame = scored.to_pandas()
            return frame
        if isinstance(batch, dict):  # numpy batch format: column name -> array
            table = pa.table({k: list(v) for k, v in batch.items()})
            return {k: v.to_numpy(zero_copy_only=False) for k, v in self._table(table).items()}
        raise TypeError(
            f"Reranker takes pyarrow, pandas or numpy batches, not {type(batch).__name__}"
        )

    def _rows(self, table: Any) -> list[Row]:
        rows: list[Row] = table.to_pylist()
        name = self.order_by
        if name is not None:
            rows.sort(key=lambda row: cast(Any, row[name]))
        return rows

    def _table(self, table: Any) -> Any:
        import pyarrow as pa  # noqa: PLC0415

        run = rerank_table(
            self._rows(table),
            client=self._client,
            config=self.config,
            columns=self.columns,
            concurrency=self.concurrency,
        )
        rows = list(run)
        kept = [f for f in table.schema if f.name not in (SCORE, RANK, CHUNK, ERROR)]
        schema = pa.schema(
            [
                *kept,
                pa.field(SCORE, pa.float64()),
                pa.field(RANK, pa.int64()),
                pa.field(CHUNK, pa.int64()),
                pa.field(ERROR, pa.string()),
            ]
        )
        return pa.Table.from_pylist(rows, schema=schema)


def rerank_dataset(
    dataset: Any,
    config: ClientConfig,
    *,
    actors: int = 2,
    columns: Columns = DEFAULT_COLUMNS,
    concurrency: int = 4,
    order_by: str | None = None,
    batch_format: str = "pyarrow",
    num_cpus: float = 0.25,
    num_partitions: int | None = None,
) -> Any:
    """``dataset`` grouped by query id and scored by ``actors`` :class:`Reranker` actors.

    The grouping cuts the dataset into ``num_partitions`` partitions of whole
    queries (``actors × concurrency`` by default); a task scores one partition,
    one query per call, and each actor runs ``concurrency`` tasks at once on
    threads sharing its client: up to ``actors × concurrency`` queries, each
    with its chunks, in flight. An actor waits on the network, not the CPU, so
    it asks Ray for ``num_cpus`` of a CPU only, which leaves the grouping's
    tasks room to run.
    """
    import ray.data  # noqa: PLC0415 - the ray extra

    partitions = num_partitions if num_partitions is not None else actors * concurrency
    grouped = dataset.groupby(columns.query_id, num_partitions=partitions)
    return grouped.map_groups(
        Reranker,
        fn_constructor_args=(config,),
        fn_constructor_kwargs={
            "actors": actors,
            "columns": columns,
            "concurrency": 1,  # one query per call
            "order_by": order_by,
        },
        compute=ray.data.ActorPoolStrategy(
            size=actors,
            max_tasks_in_flight_per_actor=concurrency,
            max_concurrent_calls_per_actor=concurrency,
            enable_true_multi_threading=True,
        ),
        batch_format=batch_format,
        num_cpus=num_cpus,
    )
