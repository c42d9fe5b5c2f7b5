"""Which settings a module reads, so that a typo in one is told, not silently sent.

Python only. A module registers its name and the setting keys it reads
(config/class_settings.py does, for ``reranker-nvidia``: ``baseURL`` and
``model``); ``ClassBasedModuleConfig.for_settings`` then stores settings under
that name when none is given, and warns, with :class:`SettingsWarning`, of a
key the module does not read or a module name that is not its own, naming the
nearest known one. Nothing about the request changes: a key that is not read
leaves Go's default in place (``https://ai.api.nvidia.com`` for the base URL).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import SettingsWarning

_MODULES: dict[str, frozenset[str]] = {}


def register_module_settings(module_name: str, keys: Iterable[str]) -> None:
    """Declare that ``module_name`` reads the settings ``keys``."""
    _MODULES[module_name] = frozenset(keys)


def default_module_name() -> str:
    """The registered module's name (this package registers exactly one)."""
    if len(_MODULES) != 1:
        raise TypeError("for_settings(settings) needs a module name: for_settings(name, settings)")
    return next(iter(_MODULES))


def warn_unread_settings(module_name: str, settings: Mapping[str, Any], *, stacklevel: int) -> None:
    """A :class:`SettingsWarning` for a module name or a setting key that nothing reads."""
    known = _MODULES.get(module_name)
    if known is None:
        nearest = _nearest(module_name, _MODULES)
        warnings.warn(
            f"no module named {module_name!r} reads these settings"
            + (f" (did you mean {nearest!r}?)" if nearest else "")
            + "; they are ignored",
            SettingsWarning,
            stacklevel=stacklevel + 1,
        )
        return
    for key in settings:
        if key in known:
            continue
        nearest = _nearest(str(key), known)
        warnings.warn(
            f"{module_name} does not read the setting {key!r}"
            + (f" (did you mean {nearest!r}?)" if nearest else "")
            + "; it is ignored",
            SettingsWarning,
            stacklevel=stacklevel + 1,
        )


def _nearest(name: str, known: Iterable[str]) -> str | None:
    candidates = sorted(known)
    by_case = {candidate.lower(): candidate for candidate in candidates}
    if name.lower() in by_case:
        return by_case[name.lower()]
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return found[0] if found else None
