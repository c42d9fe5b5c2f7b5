"""Port of weaviate/weaviate ``usecases/modulecomponents/additional`` (the ranker provider)."""
