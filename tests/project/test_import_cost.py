"""What start-up loads: pydantic, asyncio and anyio's core only once a path needs them.

Each check runs in a fresh interpreter and reads ``sys.modules``: a module
set, never a timing. ``import reranker_nvidia``, ``import
reranker_nvidia.cli.main``, a sync :class:`Client`'s construction and a
successful sync call load neither pydantic nor asyncio; of anyio, only what
httpcore's own import brings (its ``_synchronization`` imports the ``anyio``
package, whose names load on first use), which is measured here too, in its
own interpreter. An error answer is where pydantic comes in (the control
that shows the check sees it), and an ``http://`` call never builds the TLS
context (loading the CA bundle is the costliest step of a first call).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import httpcore
import pytest

from reranker_nvidia.modulecomponents import _transport

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("pydantic", "asyncio", "anyio")
"""Top-level packages whose modules start-up should not load (anyio: beyond httpcore's)."""

SERVER = """
import http.server, threading

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        passages = body.count(b'"text"') - 1
        status, answer = ANSWER(passages)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
"""

RANKINGS = """
def ANSWER(passages):
    rankings = ",".join(f'{{"index": {i}, "logit": {i / 2 + 0.25}}}' for i in range(passages))
    return 200, ('{"rankings": [' + rankings + ']}').encode()
"""

UNPROCESSABLE = """
def ANSWER(passages):
    return 422, b'{"detail": [{"loc": ["body", "query"], "msg": "field required"}]}'
"""


def loaded_after(code: str) -> set[str]:
    """The modules of :data:`HEAVY` packages loaded once ``code`` has run in a fresh interpreter."""
    probe = textwrap.dedent(code) + textwrap.dedent("""
        import json as _json, sys as _sys
        print(_json.dumps(sorted(_sys.modules)))
    """)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            "NVIDIA_APIKEY": "nvapi-start-up-test",  # no other settings, no proxies
            "PATH": os.environ.get("PATH", ""),
            **{k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "SYSTEMROOT")},
        },
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return {m for m in modules if m.split(".")[0] in HEAVY}


def httpcore_s_own() -> set[str]:
    return loaded_after("import httpcore")


def test_httpcore_brings_only_anyio_s_package_itself() -> None:
    # What the checks below allow; should httpcore load more of anyio, they would still hold.
    assert not {m for m in httpcore_s_own() if not m.startswith("anyio")}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import reranker_nvidia", id="package"),
        pytest.param("import reranker_nvidia\nreranker_nvidia.__version__", id="version"),
    ],
)
def test_the_package_root_loads_none_of_them(code: str) -> None:
    assert loaded_after(code) == set()


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import reranker_nvidia.cli.main", id="cli"),
        pytest.param("from reranker_nvidia import Client\nClient()", id="sync-client"),
        pytest.param(
            SERVER
            + RANKINGS
            + """
from reranker_nvidia import Client, ClassBasedModuleConfig
cfg = ClassBasedModuleConfig.for_settings({"baseURL": BASE_URL})
with Client() as client:
    result = client.rank("q", ["a", "b", "c"], cfg)
assert [s.score for s in result.document_scores] == [0.25, 0.75, 1.25], result
""",
            id="sync-call",
        ),
        pytest.param(
            SERVER
            + RANKINGS
            + """
import contextlib, io, os, tempfile
from reranker_nvidia.cli.main import main
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "passages.txt")
    with open(path, "w", encoding="utf-8") as file:
        file.write("".join(f"passage {i}\\n" for i in range(600)))  # two requests
    with contextlib.redirect_stdout(io.StringIO()) as out:
        status = main(["rerank", "--query", "q", "--input", path, "--base-url", BASE_URL])
assert status == 0 and "passage 599" in out.getvalue(), status
""",
            id="cli-rerank",
        ),
    ],
)
def test_start_up_and_a_successful_sync_call_load_none_of_them(code: str) -> None:
    assert loaded_after(code) <= httpcore_s_own()


def test_an_error_answer_is_where_pydantic_comes_in() -> None:
    loaded = loaded_after(
        SERVER
        + UNPROCESSABLE
        + """
from reranker_nvidia import Client, ClassBasedModuleConfig, UpstreamError
cfg = ClassBasedModuleConfig.for_settings({"baseURL": BASE_URL})
with Client() as client:
    try:
        client.rank("q", ["a"], cfg)
    except UpstreamError as err:
        assert str(err).endswith("error: field required"), err
    else:
        raise AssertionError("no error")
"""
    )
    assert "pydantic" in loaded
    assert not {m for m in loaded if m.startswith("asyncio")}


def test_an_http_call_never_builds_the_tls_context() -> None:
    code = (
        SERVER
        + RANKINGS
        + """
from reranker_nvidia import Client, ClassBasedModuleConfig
from reranker_nvidia.modulecomponents import _transport
cfg = ClassBasedModuleConfig.for_settings({"baseURL": BASE_URL})
with Client() as client:
    client.rank("q", ["a"], cfg)
assert _transport._ssl_context.cache_info().currsize == 0, "built for http://"
"""
    )
    loaded_after(code)  # its assertion fails the subprocess, and so the test


def test_an_https_origin_gets_the_one_shared_tls_context() -> None:
    https = httpcore.Origin(b"https", b"example.com", 443)
    context = _transport._tls_context_for(https)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert _transport._tls_context_for(httpcore.Origin(b"https", b"other", 8443)) is context
    assert _transport._tls_context_for(httpcore.Origin(b"http", b"example.com", 80)) is None
