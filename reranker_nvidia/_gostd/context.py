"""Go's ``context.Context``, as far as a module reads it: the request's headers.

Weaviate hands a module the request's HTTP headers (under Go's canonical
names) and gRPC metadata (lower-cased) through ``ctx``. In Python the context
is the keyword argument ``headers``: any mapping of names to a value or a
list of values, or a sequence of ``(name, value)`` pairs. The lookup itself
is ported in modulecomponents/header_values.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

HeaderSource = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]] | None
"""Request headers: ``{"X-Nvidia-Api-Key": "…"}``, ``[("x-nvidia-api-key", "…")]``, …"""
