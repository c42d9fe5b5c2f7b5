"""The package root's ``__all__`` is its public names, both ways, sorted (httpx's habit).

Every name in ``__all__`` exists, and every public name the root shows is in ``__all__``.
Both read ``dir(reranker_nvidia)``, so they hold whether the root imports its names or
exports them lazily through a module ``__getattr__`` and ``__dir__``.
"""

from __future__ import annotations

import importlib
import pkgutil
import types

import reranker_nvidia
from reranker_nvidia import errors
from reranker_nvidia.modulecomponents.additional.models import ranker as models
from reranker_nvidia.modulecomponents.ent import rank_result as ent


def test_all_is_sorted_and_complete() -> None:
    names = reranker_nvidia.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.startswith("_"), n))
    for name in names:
        assert hasattr(reranker_nvidia, name), name
    assert len(set(names)) == len(names)
    # dir() lists them too, so a lazy root must say what it exports (module __dir__).
    assert sorted(set(names) - set(dir(reranker_nvidia))) == []


def is_own_submodule(name: str) -> bool:
    """``reranker_nvidia.<name>`` is a sub-package or module of the package itself."""
    value = getattr(reranker_nvidia, name)
    return isinstance(value, types.ModuleType) and value.__name__ == f"reranker_nvidia.{name}"


def test_every_public_name_of_the_root_is_in_all() -> None:
    # The other direction (httpx's tests/test_exported_members.py): a name the root shows
    # without a leading underscore is exported, unless it is one of the package's own modules.
    public = [n for n in dir(reranker_nvidia) if not n.startswith("_") and not is_own_submodule(n)]
    assert sorted(set(public) - set(reranker_nvidia.__all__)) == []


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
