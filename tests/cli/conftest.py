"""The command-line tests' NIM: a loopback server that scores by the words shared with the query.

A test module may define its own ``nim`` fixture to score another way (test_extension_flags.py).
"""

from __future__ import annotations

import pytest

from tests.cli._support import overlap_scorer
from tests.support.httptest import StartServer, TestServer


@pytest.fixture
def nim(http_server: StartServer) -> TestServer:
    return http_server(overlap_scorer)
