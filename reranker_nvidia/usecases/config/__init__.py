"""Port of weaviate/weaviate ``usecases/config`` (the one setting a module reads)."""
