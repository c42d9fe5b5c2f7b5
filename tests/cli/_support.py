"""What the command-line tests share: running ``main`` in-process, a scoring NIM, input files."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from reranker_nvidia.cli.main import main
from tests.support.httptest import Request, Writer


def overlap_scorer(request: Request, w: Writer) -> None:
    """Logit = words shared with the query; answers in descending order, as NIM does."""
    body = request.json()
    query = set(body["query"]["text"].lower().split())
    scores = [
        (i, float(len(query & set(p["text"].lower().split()))))
        for i, p in enumerate(body["passages"])
    ]
    scores.sort(key=lambda pair: -pair[1])
    w.respond(200, {"rankings": [{"index": i, "logit": s} for i, s in scores]})


def cli(*argv: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        original = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        try:
            status = main(list(argv), stdout=out, stderr=err)
        finally:
            sys.stdin = original
    else:
        status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)
