"""Fakes shared by the Go-mirroring tests (Go's ``fakeClassConfig`` and friends)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FakeClassConfig:
    """Go's ``fakeClassConfig``: the same map for ``Class()`` and ``ClassByModuleName()``."""

    def __init__(self, class_config: Mapping[str, Any] | None = None) -> None:
        self.class_config: Mapping[str, Any] = class_config if class_config is not None else {}

    def class_(self) -> Mapping[str, Any]:
        return self.class_config

    def class_by_module_name(self, module_name: str) -> Mapping[str, Any]:
        del module_name
        return self.class_config

    def property(self, prop_name: str) -> Mapping[str, Any]:
        del prop_name
        return {}

    def tenant(self) -> str:
        return ""

    def target_vector(self) -> str:
        return ""

    def properties_data_types(self) -> Mapping[str, str]:
        return {}

    def config(self) -> Any:
        return None


def rankings(*pairs: tuple[int, float]) -> dict[str, Any]:
    """A 200 body: ``{"rankings": [{"index": i, "logit": x}, …]}``."""
    return {"rankings": [{"index": index, "logit": logit} for index, logit in pairs]}
