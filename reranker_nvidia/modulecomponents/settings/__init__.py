"""Port of weaviate/weaviate ``usecases/modulecomponents/settings`` (the string getter)."""

from reranker_nvidia.modulecomponents.settings.class_settings_property_helper import (
    PropertyValuesHelper,
)

__all__ = ["PropertyValuesHelper"]
