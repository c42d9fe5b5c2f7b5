"""How Weaviate reads an on/off environment variable.

Port of entities/config/helpers.go (``Enabled``).
"""

from __future__ import annotations


def enabled(value: str) -> bool:
    """``on``, ``enabled``, ``1`` or ``true`` in any letter case; anything else is off."""
    return value.lower() in ("on", "enabled", "1", "true")
