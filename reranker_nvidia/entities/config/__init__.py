"""Port of weaviate/weaviate ``entities/config``."""
