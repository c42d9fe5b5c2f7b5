"""The ``truncate`` setting: how NIM cuts a passage past its token limit (D-EXT-TRUNCATE).

Python only. Go's ``rankRequest`` declares ``truncate`` but never sets it, so
it is never sent; with the setting (``NONE`` or ``END``, checked by the row in
settings.py) it is sent on the three NIM routes. The ``rerank`` gateway's
contract has no such member, so ``endpoint.request_body`` does not call this
for it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["with_truncate"]


def with_truncate(body: dict[str, Any], truncate: str | None) -> dict[str, Any]:
    """``body`` with its ``truncate`` member, when one is set."""
    if truncate is not None:
        body["truncate"] = truncate
    return body
