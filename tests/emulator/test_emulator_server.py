"""The real-socket front end: running_emulator and serve (threads, ports, signals, shutdown)."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from nim_emulator import (
    EmulatorConfig,
    EmulatorConfigError,
    EmulatorServerError,
    FaultSpec,
    _server,
    create_app,
    running_emulator,
    serve,
)

from ._support import GENERIC, body


def emulator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("reranker-nvidia-emulator")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_running_emulator_serves_then_stops_without_leaking_a_thread() -> None:
    with running_emulator() as url:
        assert url.startswith("http://127.0.0.1:")
        assert len(emulator_threads()) == 1
        response = httpx.get(url + "/v1/health/ready")
        assert response.status_code == 200
    assert emulator_threads() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v1/health/ready")


def test_start_and_stop_are_cheap_enough_for_every_test() -> None:
    # not a timing assertion on one run: twenty starts and stops complete, each stop joins
    for _ in range(20):
        with running_emulator() as url:
            assert httpx.get(url + "/v1/health/live").status_code == 200
    assert emulator_threads() == []


def test_server_sets_tcp_nodelay_on_connections() -> None:
    app = create_app()
    with running_emulator(app=app) as url, httpx.Client(base_url=url) as client:
        client.get("/v1/models")
        client.get("/v1/models")
    assert [r.tcp_nodelay for r in app.state.emulator.requests] == [True, True]


def test_explicit_port_is_used() -> None:
    port = free_port()
    with running_emulator(port=port) as url:
        assert url == f"http://127.0.0.1:{port}"


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with (
            pytest.raises(EmulatorServerError, match=f"cannot listen on 127.0.0.1:{port}"),
            running_emulator(port=port),
        ):
            pass  # pragma: no cover


@pytest.mark.parametrize("port", [-1, 70000])
def test_bad_port_is_a_config_error(port: int) -> None:
    with (
        pytest.raises(EmulatorConfigError, match="port must be 0-65535"),
        running_emulator(port=port),
    ):
        pass  # pragma: no cover


def test_unknown_host_is_a_clear_error() -> None:
    with (
        pytest.raises(EmulatorServerError, match="cannot listen on no such host"),
        running_emulator(host="no such host"),
    ):
        pass  # pragma: no cover


def test_config_and_app_together_are_refused() -> None:
    with (
        pytest.raises(EmulatorConfigError, match="a config or an app, not both"),
        running_emulator(EmulatorConfig(), app=create_app()),
    ):
        pass  # pragma: no cover


def test_ipv6_loopback_url_has_brackets() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with running_emulator(host="::1") as url:
            assert url.startswith("http://[::1]:")
            assert httpx.get(url + "/v1/health/ready").status_code == 200
    except EmulatorServerError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")


def test_failed_start_up_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_startup(self: object, sockets: object = None) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_server._Server, "startup", broken_startup)
    with (
        pytest.raises(EmulatorServerError, match="did not start: RuntimeError"),
        running_emulator(),
    ):
        pass  # pragma: no cover
    assert emulator_threads() == []


def test_stopping_closes_connections_that_wait_on_a_slow_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_server, "GRACE_S", 0.05)
    app = create_app(EmulatorConfig(faults=[FaultSpec.parse("latency=60000")]))
    errors: list[BaseException] = []
    with running_emulator(app=app) as url:

        def call() -> None:
            try:
                httpx.post(url + GENERIC, json=body(), timeout=30)
            except httpx.HTTPError as exc:
                errors.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        while not app.state.emulator.requests:
            time.sleep(0.005)
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)
    assert app.state.emulator.requests[0].outcome == "client-disconnected"
    assert emulator_threads() == []


def test_serve_in_a_thread_prints_the_line_and_stops_on_the_event() -> None:
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(serve(EmulatorConfig(), "127.0.0.1", 0, stop=stop, out=out))
    )
    thread.start()
    while not out.getvalue():
        time.sleep(0.005)
    line = out.getvalue()
    url = line.strip().removeprefix("reranker-nvidia emulator listening on ")
    assert line.startswith("reranker-nvidia emulator listening on http://127.0.0.1:")
    assert line.endswith("\n") and line.count("\n") == 1
    assert httpx.get(url + "/v1/health/ready").status_code == 200
    stop.set()
    thread.join(timeout=10)
    assert result == [0]
    assert emulator_threads() == []


def test_serve_returns_1_when_the_server_dies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_server._Runner, "alive", property(lambda self: False))
    assert serve(port=0, stop=threading.Event(), out=io.StringIO()) == 1


@pytest.fixture
def main_thread_signal() -> Iterator[None]:
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    assert {s: signal.getsignal(s) for s in previous} == previous


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.usefixtures("main_thread_signal")
def test_serve_in_the_main_thread_stops_on_a_signal(signum: signal.Signals) -> None:
    port = free_port()

    def send_when_listening() -> None:
        # serve installs its handlers before it listens, so a connection means they are in place
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.005)
        os.kill(os.getpid(), signum)

    sender = threading.Thread(target=send_when_listening)
    sender.start()
    code = serve(EmulatorConfig(), "127.0.0.1", port, out=io.StringIO())
    sender.join()
    assert code == 0
    assert emulator_threads() == []


SCRIPT = """
import argparse, sys
from nim_emulator import cli
parser = argparse.ArgumentParser(prog="reranker-nvidia emulator")
cli.configure(parser)
sys.exit(cli.run(parser.parse_args(sys.argv[1:])))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_command_in_a_subprocess_stops_cleanly_on_a_signal(signum: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "--port", "0", "--fault", "status=429,count=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("reranker-nvidia emulator listening on http://127.0.0.1:")
        url = line.strip().rsplit(" ", 1)[1]
        statuses = [
            httpx.post(
                url + "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2")
            ).status_code
            for _ in range(2)
        ]
        assert statuses == [429, 200]
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:  # pragma: no cover  (only when an assertion failed above)
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert stdout == ""
    assert "Traceback" not in stderr


def test_end_of_life_uses_the_real_clock_by_default() -> None:
    # the real date is after 2026-05-18 on any machine running this suite
    with running_emulator(EmulatorConfig()) as url:
        response = httpx.post(
            url + "/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking",
            json=body(model="nvidia/llama-3.2-nv-rerankqa-1b-v2"),
            headers={"Authorization": "Bearer x"},
        )
    expected = (
        410 if datetime.now().year >= 2027 or datetime.now() >= datetime(2026, 5, 18) else 200
    )
    assert response.status_code == expected


def test_drop_gives_up_on_unwritten_bytes_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_server, "DROP_FLUSH_S", 0)
    config = EmulatorConfig(faults=[FaultSpec.parse("drop-mid-body")])
    with running_emulator(config) as url, pytest.raises(httpx.TransportError):
        httpx.post(url + "/v1/ranking", json=body(model="nvidia/llama-nemotron-rerank-1b-v2"))
    assert emulator_threads() == []


def test_the_docs_python_examples_run_as_scripts(tmp_path: Path) -> None:
    """Every ``python`` block of docs/emulator.md is a complete script that runs as it stands."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
    blocks = re.findall(r"^```python\n(.*?)^```", docs.read_text(encoding="utf-8"), re.M | re.S)
    assert len(blocks) >= 2
    for number, code in enumerate(blocks):
        script = tmp_path / f"example_{number}.py"
        script.write_text(code, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
        )
        assert (done.returncode, done.stderr) == (0, ""), code
        # A print's comment is what it prints, up to a " {…}" or " (…)" aside.
        expected = [
            re.split(r" [{(]", comment, maxsplit=1)[0]
            for comment in re.findall(r"print\(.*\)  # (.*)$", code, re.M)
        ]
        shown = done.stdout.splitlines()
        assert len(shown) == len(expected), done.stdout
        assert all(line.startswith(want) for line, want in zip(shown, expected, strict=True))


def test_the_listen_backlog_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    backlogs: list[int] = []
    listen = socket.socket.listen

    def spy(self: socket.socket, backlog: int = 128) -> None:
        backlogs.append(backlog)
        listen(self, backlog)

    monkeypatch.setattr(socket.socket, "listen", spy)
    with running_emulator():
        pass
    assert backlogs  # the bound socket, and asyncio's listen on it again
    assert set(backlogs) == {_server.LISTEN_BACKLOG}
    assert _server.LISTEN_BACKLOG >= 128


def test_hundreds_of_connections_at_once_are_all_answered() -> None:
    import asyncio

    request = b"GET /v1/health/ready HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n\r\n"

    async def one(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    async def burst(port: int) -> list[bytes]:
        return await asyncio.gather(*(one(port) for _ in range(300)))

    config = EmulatorConfig(faults=[FaultSpec.parse("latency=100,path=/v1/health/ready")])
    with running_emulator(config) as url:
        answers = asyncio.run(burst(int(url.rsplit(":", 1)[1])))
    assert len(answers) == 300
    assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
