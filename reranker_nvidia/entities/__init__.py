"""Port of the parts of weaviate/weaviate ``entities/`` that the module touches."""
