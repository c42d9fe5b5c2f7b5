"""Port of weaviate/weaviate ``usecases/modulecomponents/additional/rank``."""
