"""The package root re-exports its public names, sorted, and each one exists (httpx's habit)."""

from __future__ import annotations

import importlib
import pkgutil

import reranker_nvidia
from reranker_nvidia import errors
from reranker_nvidia.modulecomponents.additional.models import ranker as models
from reranker_nvidia.modulecomponents.ent import rank_result as ent


def test_all_is_sorted_and_complete() -> None:
    names = reranker_nvidia.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.startswith("_"), n))
    for name in names:
        assert hasattr(reranker_nvidia, name), name


def test_the_two_rank_results_are_told_apart() -> None:
    # Go's ent.RankResult (what Client.rank returns) and models.RankResult (one _additional.rerank
    # entry) share a name; the root exports the second as RerankScore.
    assert reranker_nvidia.RankResult is ent.RankResult
    assert reranker_nvidia.RerankScore is models.RankResult
    assert reranker_nvidia.RankResult is not reranker_nvidia.RerankScore
    assert "RerankScore" in reranker_nvidia.__all__


def test_sub_packages_re_export_nothing() -> None:
    # One import path per name: a sub-package's __init__ is a docstring, nothing else.
    # The extensions' rooms at the top (bulk/, weaviate/) are entry points, as the root is.
    entry_points = ("reranker_nvidia.bulk", "reranker_nvidia.weaviate")
    for info in pkgutil.walk_packages(reranker_nvidia.__path__, "reranker_nvidia."):
        if not info.ispkg or info.name in entry_points:
            continue
        package = importlib.import_module(info.name)
        public = [
            name
            for name, value in vars(package).items()
            if not name.startswith("_") and not isinstance(value, type(reranker_nvidia))
        ]
        assert public == [], info.name


def test_every_error_is_exported_and_a_reranker_error() -> None:
    for name in errors.__all__:
        error = getattr(errors, name)
        if name in ("SettingsWarning", "ModelDeprecationWarning"):  # warnings, not errors
            assert issubclass(error, UserWarning)
        else:
            assert issubclass(error, errors.RerankerError)
        assert getattr(reranker_nvidia, name) is error
