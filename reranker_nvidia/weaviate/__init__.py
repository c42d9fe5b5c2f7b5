"""Weaviate's ``rerank`` additional property, applied on the client to weaviate-client v4 results.

Not a port of a Go file: it feeds what weaviate-client returned through the
port's ``rerank`` provider, so the request, the errors and the order are the
server module's (usecases/modulecomponents/additional/rank), and builds new
result objects. Needs the ``weaviate`` extra (``pip install
'reranker-nvidia[weaviate]'``); importing :mod:`reranker_nvidia` does not
import weaviate-client, only this package does::

    from reranker_nvidia.weaviate import rerank
    from weaviate.classes.query import Rerank

    ranked = rerank(response, Rerank(prop="description", query="library hours"))

What cannot match the server (properties the query did not return, groups of
a keyword search, …) is docs/divergences.md, D-CLIENT-SIDE; docs/python.md
shows every input shape and settings source.
"""

from reranker_nvidia.weaviate._inputs import PropertyNotReturnedWarning
from reranker_nvidia.weaviate._rerank import arerank, rerank

__all__ = ["PropertyNotReturnedWarning", "arerank", "rerank"]
