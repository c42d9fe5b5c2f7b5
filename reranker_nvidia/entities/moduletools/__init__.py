"""Port of weaviate/weaviate ``entities/moduletools``."""
