"""Typed errors for error answers, their messages kept: what ``perform_rank`` raises.

Python only. Go's ``getResponseError`` returns plain errors; here an answer
that says more is a subclass of :class:`UpstreamError` with Go's message, so
a caller can catch it: a token overflow (D-EXT-TOKEN-LIMIT), a retired model
(D-EXT-LIFECYCLE), a route that does not fit (a ``hint``, D-EXT-ENDPOINT).
These run only for an error answer.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .._gostd import url as gourl
from ..errors import RedirectError, RerankerError, UpstreamError
from ..extensions.lifecycle import retired
from ..extensions.successors import successor_line, successor_of
from ._error_dialects import token_limit


def refined_error(
    err: RerankerError,
    *,
    endpoint: str = "retrieval",
    model: str = "",
    first_index: int = 0,
    passages: int = 0,
    hinted: bool = False,
    url: str = "",
) -> RerankerError:
    """An error answer as a typed error; its message stays Go's unless ``hinted``.

    A token overflow is a :class:`TokenLimitError` (D-EXT-TOKEN-LIMIT), a 410 a
    :class:`ModelRetiredError` (D-EXT-LIFECYCLE); a 404 from a route that does
    not fit gets a ``hint`` naming the endpoint that would (D-EXT-ENDPOINT), or,
    when the request ``url`` shows a base URL ending in ``/v1``, saying to drop it.
    A 410 or 404 about a model whose successor NVIDIA has named names it, in
    the hint and as ``successor`` (D-EXT-LIFECYCLE).

    The one rule for a hint: it is always ``err.hint``; the message is Go's on
    Go's route, and with ``hinted`` (an ``endpoint`` or ``truncate`` set, where
    the message is the port's own) it ends with ``; <hint>``. The command line
    prints the message without it and the hint on its own ``hint:`` line.
    """
    if not isinstance(err, UpstreamError) or isinstance(err, RedirectError):
        return err
    refined: UpstreamError = err
    if err.status == 410:
        return retired(err, model, plain=hinted)
    if err.status in (400, 422):
        refined = token_limit(err, first_index, passages) or err
    elif err.status == 404:
        from ..extensions.endpoint import hint_for  # noqa: PLC0415 - a 404 only; it loads pydantic

        refined.hint = base_url_v1_hint(url) or hint_for(err, endpoint, model)
        refined.successor = successor_named(refined.hint, model)
    if hinted and refined.hint:
        refined.args = (f"{refined.args[0]}; {refined.hint}", *refined.args[1:])
    return refined


def successor_named(hint: str | None, model: str) -> str | None:
    """The successor of ``model`` when ``hint`` names it (D-EXT-LIFECYCLE), else ``None``."""
    line = successor_line(model)
    row = successor_of(model)
    if hint is None or line is None or row is None or line not in hint:
        return None
    return row.successor


_ROUTE = re.compile(r"^(?P<base>.*?)(?P<route>/v1/(?:retrieval/.+/reranking|ranking|rerank))$")
"""A request path: the base URL's path, then one of the routes (D-EXT-ENDPOINT)."""


def base_url_v1_hint(url: str) -> str | None:
    """For a base URL ending in ``/v1`` (LangChain's form), a hint to drop it, else ``None``.

    Every route starts with ``/v1``, so such a base URL asks for ``/v1/v1/…``;
    the other routes would 404 the same way, so no other endpoint is named.
    """
    parts = urlsplit(url)
    found = _ROUTE.match(parts.path)
    if found is None or not found.group("base").rstrip("/").lower().endswith("/v1"):
        return None
    base_path = found.group("base").rstrip("/")[: -len("/v1")]
    base = gourl.strip_password(parts._replace(path=base_path, query="", fragment="").geturl())
    return (
        f"the base URL ends in /v1, which the route adds itself ({parts.path}): "
        f"drop the /v1, base URL {base}"
    )
