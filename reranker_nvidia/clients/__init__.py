"""Port of weaviate/weaviate ``modules/reranker-nvidia/clients``."""

from reranker_nvidia.clients.ranker import AsyncClient, Client

__all__ = ["AsyncClient", "Client"]
