"""Reading ``rerank(property:, query:)`` from a GraphQL query.

Port of usecases/modulecomponents/additional/rank/rank_params_extractor.go.
Works on graphql-core ``ArgumentNode`` objects (or anything with the same
``name.value`` / ``value.kind`` / ``value.value`` attributes), so graphql-core
is only needed to parse a query, not to call this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ....errors import ParamsError
from .rank_params import Params

_STRING_VALUE = "string_value"


def _string_literal(arg: Any) -> str:
    value = arg.value
    if getattr(value, "kind", None) != _STRING_VALUE:
        # Go's type assertion panics here (D-GRAPHQL-NONSTRING).
        kind = str(getattr(value, "kind", type(value).__name__)).replace("_", " ")
        raise ParamsError(
            f'rerank argument "{arg.name.value}" must be a string literal, not {kind}'
        )
    return str(value.value)


def parse_reranker_arguments(args: Sequence[Any] | None) -> Params:
    """``query`` and ``property`` from the argument nodes; other arguments are ignored."""
    out = Params()
    for arg in args or ():
        name = arg.name.value
        if name == "query":
            out.query = _string_literal(arg)
        elif name == "property":
            out.property = _string_literal(arg)
    return out
