"""Port of weaviate/weaviate ``entities/search`` (the result shape)."""
