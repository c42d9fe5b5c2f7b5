"""Port of the parts of weaviate/weaviate ``usecases/`` outside modulecomponents."""
