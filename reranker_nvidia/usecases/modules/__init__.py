"""Port of weaviate/weaviate ``usecases/modules`` (the class-based module config)."""
