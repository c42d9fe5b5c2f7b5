"""A client pickles with its extensions (for Ray and Spark workers), but not its transport.

Pickling through the bulk path, and into a new event loop, is tested in tests/bulk/test_pickle.py.
"""

from __future__ import annotations

import pickle

import httpx

from reranker_nvidia import Client
from tests.extensions._support import Recorder


def test_the_client_keeps_what_it_was_built_with_but_its_transport() -> None:
    c = Client("k", endpoint="auto", retries=2, transport=httpx.MockTransport(Recorder()))
    assert c._init_kwargs["endpoint"] == "auto"
    assert c._init_kwargs["retries"] == 2
    assert c._init_kwargs["api_key"] == "k"
    assert "transport" not in c._init_kwargs
    assert "resolver" not in c._init_kwargs
    c.close()


def test_a_client_pickles_with_its_extensions() -> None:
    c = Client("k", endpoint="ranking", truncate="END", requests_per_minute=30)
    copy = pickle.loads(pickle.dumps(c))
    assert copy.extensions == c.extensions
    c.close()
    copy.close()
