"""Port of weaviate/weaviate ``usecases/modulecomponents/additional/models``."""
