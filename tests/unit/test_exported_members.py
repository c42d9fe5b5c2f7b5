"""The package root re-exports its public names, sorted, and each one exists (httpx's habit)."""

from __future__ import annotations

import reranker_nvidia
from reranker_nvidia import errors


def test_all_is_sorted_and_complete() -> None:
    names = reranker_nvidia.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.startswith("_"), n))
    for name in names:
        assert hasattr(reranker_nvidia, name), name


def test_every_error_is_exported_and_a_reranker_error() -> None:
    for name in errors.__all__:
        error = getattr(errors, name)
        assert issubclass(error, errors.RerankerError)
        assert getattr(reranker_nvidia, name) is error
