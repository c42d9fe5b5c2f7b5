"""A fake DNS for tests: Go's tests resolve real public hosts; ours never leave the machine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reranker_nvidia.modulecomponents.validate_baseurl import ResolveError

# Public addresses standing in for what these hosts resolve to on the internet.
PUBLIC_HOSTS: Mapping[str, Sequence[str]] = {
    "api.openai.com": ("104.18.33.45",),
    "ai.api.nvidia.com": ("34.117.59.81",),
    "integrate.api.nvidia.com": ("34.117.59.82",),
    "public.example": ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
}


class FakeResolver:
    """Answers from a table; counts lookups; unknown names do not resolve."""

    def __init__(self, table: Mapping[str, Sequence[str]] | None = None) -> None:
        self.table = dict(PUBLIC_HOSTS if table is None else table)
        self.lookups: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise ResolveError(f"lookup {host}: no such host")
        return list(self.table[host])
