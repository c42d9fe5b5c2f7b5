"""Port of weaviate/weaviate ``usecases/config`` (the one setting a module reads)."""

from reranker_nvidia.usecases.config.environment import (
    DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT,
    Config,
    module_http_client_timeout_from_environment,
)

__all__ = [
    "DEFAULT_MODULE_HTTP_CLIENT_TIMEOUT",
    "Config",
    "module_http_client_timeout_from_environment",
]
