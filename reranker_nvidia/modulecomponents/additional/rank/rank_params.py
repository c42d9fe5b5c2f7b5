"""The arguments of ``rerank(property:, query:)``.

Port of usecases/modulecomponents/additional/rank/rank_params.go.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Params:
    """``property`` to read each result's text from, and the ``query`` to rank against."""

    property: str | None = None
    query: str | None = None

    def get_query(self) -> str:
        """The query, or ``""``. Weaviate never falls back to the search's own query."""
        return self.query if self.query is not None else ""

    def get_property(self) -> str:
        """The property name, or ``""``."""
        return self.property if self.property is not None else ""

    def get_properties_to_extract(self) -> list[str]:
        """The property to fetch for the results: ``[property]``, or ``[]``."""
        prop = self.get_property()
        return [prop] if prop != "" else []
