"""Resuming a run: the groups an earlier output holds are copied over and not sent again."""

from __future__ import annotations

from pathlib import Path

from reranker_nvidia.bulk._formats import Writer, group_failed, written_groups
from reranker_nvidia.bulk._groups import Columns, group_key


def carry_over(output: Path, fmt: str, columns: Columns, writer: Writer) -> tuple[set[str], int]:
    """Copy ``output``'s scored groups into ``writer``; their query ids and rows copied.

    A failed group of the earlier output is left out, so it is sent again. An
    output that does not exist yet holds nothing.
    """
    if not output.exists():
        return set(), 0
    done: set[str] = set()
    rows = 0
    for group in written_groups(output, fmt, columns):
        if group_failed(group):
            continue
        writer.write(group)
        done.add(group_key(group[0][columns.query_id]))
        rows += len(group)
    return done, rows
