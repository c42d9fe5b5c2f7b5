"""With Go's defaults, a rank runs Go's path and none of the extensions' code.

Each function a call runs is recorded with ``sys.setprofile`` (every call on
this thread, the client's and the libraries'); a default ``Client.rank`` and
a default ``AsyncClient.rank`` over two documents, on a real socket, must run
no function defined in ``reranker_nvidia/extensions/``. The same tracer, on a
client that sets ``retries``, sees the extensions run: the check is not blind.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import pytest

import reranker_nvidia
from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from tests.support.httptest import Request, StartServer, TestServer, Writer

EXTENSIONS = Path(reranker_nvidia.__file__).parent / "extensions"


def answer(request: Request, w: Writer) -> None:
    passages = json.loads(request.body)["passages"]
    rankings = [{"index": i, "logit": float(i)} for i in range(len(passages))]
    w.respond(200, {"rankings": rankings})


@pytest.fixture
def server(http_server: StartServer) -> Iterator[TestServer]:
    yield http_server(answer)


def calls_made(run: Callable[[], Any]) -> list[tuple[str, str]]:
    """``(file, function)`` of every Python function ``run`` calls, on any thread it starts."""
    seen: list[tuple[str, str]] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            seen.append((frame.f_code.co_filename, frame.f_code.co_name))

    threading.setprofile(profile)  # type: ignore[arg-type]
    sys.setprofile(profile)  # type: ignore[arg-type]
    try:
        run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return seen


def in_extensions(calls: list[tuple[str, str]]) -> list[str]:
    return sorted(
        {
            f"{Path(file).name}:{name}"
            for file, name in calls
            if Path(file).is_relative_to(EXTENSIONS)
        }
    )


def test_a_default_sync_rank_runs_no_extension_code(server: TestServer) -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url})
    with Client("k") as client:
        client.rank("q", ["warm", "up"], cfg)  # the pool and the first connection

        calls = calls_made(lambda: client.rank("q", ["a", "b"], cfg))
    assert any(name == "perform_rank" for _, name in calls)  # the trace saw Go's path
    assert in_extensions(calls) == []


def test_a_default_async_rank_runs_no_extension_code(server: TestServer) -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url})

    async def main() -> list[tuple[str, str]]:
        async with AsyncClient("k") as client:
            await client.rank("q", ["warm", "up"], cfg)
            seen: list[tuple[str, str]] = []

            async def ranked() -> None:
                await client.rank("q", ["a", "b"], cfg)

            def profile(frame: FrameType, event: str, arg: object) -> None:
                if event == "call":
                    seen.append((frame.f_code.co_filename, frame.f_code.co_name))

            sys.setprofile(profile)  # type: ignore[arg-type]
            try:
                await ranked()
            finally:
                sys.setprofile(None)
            return seen

    calls = anyio.run(main)
    assert any(name == "perform_rank" for _, name in calls)
    assert in_extensions(calls) == []


def test_the_trace_sees_an_extension_that_runs(server: TestServer) -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url})
    with Client("k", retries=1) as client:
        calls = calls_made(lambda: client.rank("q", ["a", "b"], cfg))
    assert "plan.py:flow" in in_extensions(calls)
    assert "retries.py:flow" in in_extensions(calls)


def test_a_class_setting_at_its_default_stays_on_gos_path(server: TestServer) -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url, "retries": None})
    with Client("k") as client:
        calls = calls_made(lambda: client.rank("q", ["a", "b"], cfg))
    assert in_extensions(calls) == []


if __name__ == "__main__":  # python tests/extensions/test_default_path.py: the figures
    from tests.support.httptest import start_server

    package = Path(reranker_nvidia.__file__).parent
    test_server = start_server(answer)
    settings = ClassBasedModuleConfig.for_settings({"baseURL": test_server.url})
    with Client("k") as sync_client:
        sync_client.rank("q", ["warm", "up"], settings)
        traced = calls_made(lambda: sync_client.rank("q", ["a", "b"], settings))
    ours = {(f, n) for f, n in traced if Path(f).is_relative_to(package)}
    files = {Path(f).relative_to(package) for f, _ in ours}
    print(  # noqa: T201 - the script's report
        f"a default Client.rank over two documents runs {len(ours)} functions of the package "
        f"in {len(files)} files; in extensions/: {in_extensions(traced) or 'none'}"
    )
