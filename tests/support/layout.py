"""The package's layout, as the project tests read it: what is the core, what is a product.

The core is ``reranker_nvidia/`` minus the products (docs/vendoring.md says the same for a
reader): the rooms of our own that use the core through its public names.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The checkout."""

PACKAGE = ROOT / "reranker_nvidia"

PRODUCTS = ("cli", "bulk", "weaviate", "contract_adapter", "__main__")
"""The package's parts that are not the core: folders, and ``__main__.py``."""
