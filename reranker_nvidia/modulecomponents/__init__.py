"""Port of weaviate/weaviate ``usecases/modulecomponents`` (the parts this module uses)."""
