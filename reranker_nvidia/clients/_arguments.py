"""What both clients of ranker.py check of their arguments before any work.

Python only: Go's types make these mistakes impossible. A programming error
is a ``TypeError`` that names the argument, raised before anything is sent.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ..config.class_settings import NAME
from ..entities.moduletools.config import ClassConfig
from ..extensions.images import Passage
from ..extensions.settings import CLASS_KEYS
from ..modulecomponents.settings.class_settings_property_helper import PropertyValuesHelper


def checked_documents(
    query: object, documents: Iterable[str | Passage]
) -> tuple[list[str | Passage], bool]:
    """``documents`` as a list, and whether all are text (else: D-EXT-IMAGES).

    Any iterable of ``str`` or ``Passage`` is taken, but not a ``str`` itself.
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, not {type(query).__name__}")
    if isinstance(documents, str | bytes | bytearray):
        raise TypeError(
            f"documents must be an iterable of str, such as a list, not a bare "
            f"{type(documents).__name__}; wrap one document in a list: [document]"
        )
    try:
        listed = list(documents)
    except TypeError:
        raise TypeError(
            f"documents must be an iterable of str, not {type(documents).__name__}"
        ) from None
    if all(map(_is_str, listed)):  # every document a str: one pass at C speed, the usual case
        return listed, True
    all_text = True
    for index, document in enumerate(listed):
        if type(document) is str:
            continue
        if not isinstance(document, str | Passage):  # Passage: D-EXT-IMAGES
            raise TypeError(f"documents[{index}] must be a str, not {type(document).__name__}")
        all_text = all_text and isinstance(document, str)
    return listed, all_text


_is_str = str.__instancecheck__  # isinstance(document, str), as a C function


def extensions_given(cfg: ClassConfig | None) -> bool:
    """Whether ``cfg``'s settings for this module set an extension (a non-null key of the table).

    Read without running any extension's code, so that a call with Go's
    settings stays on Go's path.
    """
    if cfg is None:
        return False
    settings = _HELPER.get_settings(cfg)
    if not isinstance(settings, Mapping) or not settings:
        return False
    return any(settings.get(key) is not None for key in CLASS_KEYS)


_HELPER = PropertyValuesHelper(NAME)


def checked_config(cfg: object) -> None:
    """``cfg`` is ``None`` or a :class:`ClassConfig`; a plain mapping is named as the mistake.

    Only what the client reads is required (``class_by_module_name``, then
    ``class_``), so a partial config that worked before keeps working.
    """
    if cfg is None or isinstance(cfg, ClassConfig):
        return
    if not isinstance(cfg, Mapping) and hasattr(cfg, "class_by_module_name"):
        return
    if isinstance(cfg, Mapping):
        raise TypeError(
            "cfg must be a ClassConfig, not a dict; for settings such as "
            '{"baseURL": …, "model": …} pass ClassBasedModuleConfig.for_settings(settings)'
        )
    raise TypeError(f"cfg must be a ClassConfig or None, not {type(cfg).__name__}")


class EventLoopBinding:
    """Which event loop an async client's pool belongs to; :meth:`moved` tells a new one."""

    __slots__ = ("_loop",)

    def __init__(self) -> None:
        self._loop: Any = None
        """The loop of the latest call (held, so that no new loop can take its id)."""

    def moved(self) -> bool:
        """Whether this call runs in another loop than the call before it (then rebound)."""
        current = _current_loop()
        if current is None:
            return False
        before, self._loop = self._loop, current
        return before is not None and before is not current


def _current_loop() -> Any:
    """The running asyncio loop, or trio's run token; ``None`` when neither is found."""
    asyncio = sys.modules.get("asyncio")  # not imported: no loop runs (the sync client's case)
    if asyncio is not None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            pass
    trio = sys.modules.get("trio")  # imported already by whoever runs trio
    if trio is None:
        return None
    try:
        return trio.lowlevel.current_root_task()
    except RuntimeError:
        return None
