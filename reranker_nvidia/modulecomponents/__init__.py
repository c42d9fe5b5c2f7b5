"""Port of weaviate/weaviate ``usecases/modulecomponents`` (the parts this module uses).

The ``_``-prefixed modules are not ports of a Go file: they are the HTTP
plumbing (httpx, httpcore) that Go's ``net/http`` gives Weaviate for free.
"""
