"""Port of weaviate/weaviate ``entities/modulecapabilities`` (the parts used here)."""
