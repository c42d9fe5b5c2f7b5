"""Port of weaviate/weaviate ``modules/reranker-nvidia/clients``.

The ``_``-prefixed modules are not ports of a Go file: they hold what the
Python client needs beside Go's code (sending with httpx, the error dialects
Go does not read).
"""
