"""Typed errors for error answers, their messages kept: what ``perform_rank`` raises.

Python only. Go's ``getResponseError`` returns plain errors; here an answer
that says more is a subclass of :class:`UpstreamError` with Go's message, so
a caller can catch it: a token overflow (D-EXT-TOKEN-LIMIT), a retired model
(D-EXT-LIFECYCLE), a route that does not fit (a ``hint``, D-EXT-ENDPOINT).
These run only for an error answer.
"""

from __future__ import annotations

from ..errors import RedirectError, RerankerError, UpstreamError
from ..extensions.endpoint import hint_for
from ..extensions.lifecycle import retired
from ._error_dialects import token_limit


def refined_error(
    err: RerankerError,
    *,
    endpoint: str = "retrieval",
    model: str = "",
    first_index: int = 0,
    passages: int = 0,
    hinted: bool = False,
) -> RerankerError:
    """An error answer as a typed error; its message stays Go's unless ``hinted``.

    A token overflow is a :class:`TokenLimitError` (D-EXT-TOKEN-LIMIT), a 410 a
    :class:`ModelRetiredError` (D-EXT-LIFECYCLE); a 404 from a route that does
    not fit gets a ``hint`` naming the endpoint that would (D-EXT-ENDPOINT).
    With ``hinted`` (an ``endpoint`` or ``truncate`` set) the hint ends the message.
    """
    if not isinstance(err, UpstreamError) or isinstance(err, RedirectError):
        return err
    refined: UpstreamError = err
    if err.status == 410:
        return retired(err, model, plain=hinted)
    if err.status in (400, 422):
        refined = token_limit(err, first_index, passages) or err
    elif err.status == 404:
        refined.hint = hint_for(err, endpoint, model)
    if hinted and refined.hint:
        refined.args = (f"{refined.args[0]}; {refined.hint}", *refined.args[1:])
    return refined
