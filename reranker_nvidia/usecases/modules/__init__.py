"""Port of weaviate/weaviate ``usecases/modules`` (the class-based module config)."""

from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig

__all__ = ["ClassBasedModuleConfig"]
