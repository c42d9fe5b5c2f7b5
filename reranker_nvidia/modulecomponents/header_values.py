"""Reading a request header the way Weaviate's modules do.

Port of usecases/modulecomponents/header_values.go (``GetValueFromContext``,
``GetValueFromGRPC``). Weaviate puts every ``X-…`` HTTP header into the
request context under Go's canonical name, and gRPC metadata under the
lower-cased name; a module looks both up, so in effect the name's letter case
never matters. Go's ``ctx`` becomes ``headers`` here: any mapping of names to
a value or a list of values, or a sequence of ``(name, value)`` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .._gostd.context import HeaderSource


def header_values(headers: HeaderSource, key: str) -> list[str]:
    """Every value given for ``key``, in order, whatever the letter case of the names."""
    if not headers:
        return []
    wanted = key.lower()
    pairs: Iterable[tuple[str, str | Sequence[str]]]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: list[str] = []
    for name, value in pairs:
        if name.lower() != wanted:
            continue
        if isinstance(value, str):
            found.append(value)
        else:
            found.extend(value)
    return found


def get_value_from_context(headers: HeaderSource, key: str) -> str:
    """The first value of header ``key``, or ``""`` when it is absent or empty.

    As in Go only the first value counts: an empty first value is not skipped.
    """
    values = header_values(headers, key)
    if values and values[0]:
        return values[0]
    return ""
