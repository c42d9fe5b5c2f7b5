"""Port of weaviate/weaviate ``modules/reranker-nvidia/config``."""

from reranker_nvidia.config.class_settings import (
    DEFAULT_BASE_URL,
    DEFAULT_NVIDIA_MODEL,
    ClassSettings,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_NVIDIA_MODEL", "ClassSettings"]
