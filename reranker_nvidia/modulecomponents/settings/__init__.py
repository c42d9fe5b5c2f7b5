"""Port of weaviate/weaviate ``usecases/modulecomponents/settings`` (the string getter)."""
