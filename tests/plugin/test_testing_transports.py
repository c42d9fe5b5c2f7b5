"""nim_emulator.testing: the in-process transports and the emulator handles, without pytest's help."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from nim_emulator import EmulatorConfig, EmulatorConfigError, FaultSpec, create_app
from nim_emulator.testing import (
    IN_PROCESS_BASE_URL,
    AsyncEmulatorTransport,
    EmulatorTransport,
    InProcessEmulator,
    ServedEmulator,
)

RANKING = {
    "model": "nvidia/rerank-qa-mistral-4b",
    "query": {"text": "library hours"},
    "passages": [{"text": "Cafeteria 8-8."}, {"text": "Library 9-10."}],
}
AUTH = {"Authorization": "Bearer k"}
URL = IN_PROCESS_BASE_URL + "/v1/retrieval/nvidia/reranking"


def transport_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "nim-emulator transport"]


def test_the_sync_transport_answers_as_the_app_does_and_stops_its_thread_on_close() -> None:
    app = create_app()
    transport = EmulatorTransport(app)
    assert transport_threads() == []  # started by the first request only
    with httpx.Client(transport=transport) as client:
        answer = client.post(URL, json=RANKING, headers=AUTH)
        assert len(transport_threads()) == 1
    assert answer.status_code == 200
    assert [r["index"] for r in answer.json()["rankings"]] == [1, 0]
    assert transport_threads() == []
    # A closed transport starts again on the next request (a fixture's outlives a client's).
    with httpx.Client(transport=transport) as client:
        assert client.get(IN_PROCESS_BASE_URL + "/v1/health/ready").status_code == 200
    assert [r.path for r in app.state.emulator.requests] == [
        "/v1/retrieval/nvidia/reranking",
        "/v1/health/ready",
    ]


def test_the_sync_transport_is_shared_safely_between_threads() -> None:
    with InProcessEmulator() as nim, httpx.Client(transport=nim.transport) as client:

        def call(_: int) -> int:
            return client.post(URL, json=RANKING, headers=AUTH).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(call, range(32)))
        assert codes == [200] * 32
        assert sorted(r.seq for r in nim.requests) == list(range(1, 33))


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_read_timeout_ends_a_slow_in_process_answer(kind: str) -> None:
    config = EmulatorConfig(faults=[FaultSpec.parse("latency=5000")])
    app = create_app(config)
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        if kind == "sync":
            with httpx.Client(transport=EmulatorTransport(app), timeout=0.1) as client:
                client.post(URL, json=RANKING, headers=AUTH)
        else:

            async def main() -> None:
                transport = AsyncEmulatorTransport(app)
                async with httpx.AsyncClient(transport=transport, timeout=0.1) as client:
                    await client.post(URL, json=RANKING, headers=AUTH)

            asyncio.run(main())
    assert time.perf_counter() - started < 3


def test_a_drop_reaches_the_sync_caller_as_httpx_raises_it() -> None:
    with InProcessEmulator(config=EmulatorConfig(faults=[FaultSpec.parse("drop")])) as nim:
        with (
            httpx.Client(transport=nim.transport) as client,
            pytest.raises(httpx.RemoteProtocolError),
        ):
            client.post(URL, json=RANKING, headers=AUTH)
        assert [r.outcome for r in nim.requests] == ["dropped"]


def test_app_and_config_are_exclusive() -> None:
    with pytest.raises(EmulatorConfigError, match="a config or an app, not both"):
        EmulatorTransport(create_app(), config=EmulatorConfig())
    with pytest.raises(EmulatorConfigError, match="a config or an app, not both"):
        AsyncEmulatorTransport(create_app(), config=EmulatorConfig())
    with pytest.raises(EmulatorConfigError, match="a config or an app, not both"):
        InProcessEmulator(create_app(), config=EmulatorConfig())


def test_a_served_emulator_shares_its_state_with_its_transports_and_closes() -> None:
    with ServedEmulator() as nim:
        host, port = nim.base_url.removeprefix("http://").rsplit(":", 1)
        assert host == "127.0.0.1"
        assert httpx.get(nim.base_url + "/v1/health/live").status_code == 200
        with httpx.Client(transport=nim.transport) as client:
            client.get(nim.base_url + "/v1/health/ready")
        assert [r.tcp_nodelay for r in nim.requests] == [True, None]
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 1):
        pass


def test_mismatches_are_noted_but_a_status_599_fault_is_not_one() -> None:
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "http://x/v1/models"},
                "response": {"status": {"code": 200}, "body": {"string": "{}"}},
            }
        ],
    }
    with InProcessEmulator() as nim, httpx.Client(transport=nim.transport) as client:
        nim.fault("status=599,count=1,path=*")
        assert client.get(IN_PROCESS_BASE_URL + "/v1/models").status_code == 599
        assert nim.mismatches == []
        from nim_emulator import parse_cassette

        nim.use_cassette(parse_cassette(cassette))
        assert client.post(IN_PROCESS_BASE_URL + "/v1/ranking", content=b"x").status_code == 599
        (mismatch,) = nim.mismatches
        assert (mismatch.method, mismatch.path, mismatch.body) == ("POST", "/v1/ranking", "x")
        assert mismatch.describe().startswith(
            "POST /v1/ranking with body 'x': method, path, body differ(s) from the next "
            "unserved interaction (#0)"
        )
        assert [i.index for i in nim.unused_interactions()] == [0]
        nim.reset()
        assert nim.mismatches == [] and nim.requests == []
        assert nim.use_cassette(None) is None


def test_a_server_starts_and_stops_in_milliseconds() -> None:
    # Why the fixtures start one per test: ~9 ms here on 2 busy CPUs; the bound is generous.
    started = time.perf_counter()
    for _ in range(10):
        with ServedEmulator():
            pass
    assert (time.perf_counter() - started) / 10 < 0.25
