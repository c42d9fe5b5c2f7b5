"""Port of weaviate/weaviate ``usecases/modulecomponents/ent`` (the rank result)."""
