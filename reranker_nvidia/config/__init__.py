"""Port of weaviate/weaviate ``modules/reranker-nvidia/config``."""
