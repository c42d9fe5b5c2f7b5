"""Clients and ClientConfig pickle by their settings; how the key travels (D-EXT-PICKLE)."""

from __future__ import annotations

import base64
import os
import pickle
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client
from reranker_nvidia.bulk import ClientConfig
from tests.bulk.conftest import Emulator

ROOT = Path(__file__).resolve().parents[2]
KEY = "nvapi-Secret-Key-0123456789"


def _leaks(data: bytes, key: str) -> bool:
    """Whether the key is in the bytes in any plain form: as is, UTF-16, base64, hex, reversed."""
    forms = [
        key.encode(),
        key.encode("utf-16-le"),
        base64.b64encode(key.encode()),
        key.encode().hex().encode(),
        key[::-1].encode(),
        key[4:20].encode(),  # a part of it
    ]
    return any(form in data for form in forms)


def test_the_leak_check_sees_a_key_in_clear() -> None:
    assert _leaks(pickle.dumps({"api_key": KEY}), KEY)


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_an_explicit_key_travels_masked_and_comes_back(cls: type[Client | AsyncClient]) -> None:
    client = cls(api_key=KEY, timeout=7, max_documents=100, max_concurrency=3, retries=2)
    data = pickle.dumps(client)
    assert not _leaks(data, KEY)
    again = pickle.loads(data)
    assert type(again) is cls
    assert again.api_key.value == KEY
    assert (again.timeout, again.max_documents, again.max_concurrency) == (7, 100, 3)
    assert again.extensions["retries"] == 2
    assert pickle.dumps(client) != data  # a new pad each time: two pickles share no mask


def test_a_key_from_the_environment_does_not_travel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", KEY)
    data = pickle.dumps(Client())
    assert not _leaks(data, KEY)
    # The receiving process reads its own NVIDIA_APIKEY.
    script = (
        "import pickle, sys; c = pickle.loads(sys.stdin.buffer.read()); "
        "print(repr(c.api_key.value))"
    )
    env = {**os.environ, "NVIDIA_APIKEY": "the-worker-s-key", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, env=env, check=True
    )
    assert done.stdout.decode().strip() == "'the-worker-s-key'"


def test_an_unpickled_client_builds_its_pool_anew_and_ranks(emulator: Emulator) -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": emulator.url})
    with Client(api_key="k") as client:
        before = client.rank("library", ["library hours", "cafeteria"], cfg)
        again = pickle.loads(pickle.dumps(client))
        assert again.http is not client.http
    with again:  # the original is closed; the copy has its own pool
        assert again.rank("library", ["library hours", "cafeteria"], cfg) == before


def test_an_unpickled_async_client_ranks_in_a_new_event_loop(emulator: Emulator) -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": emulator.url})
    data = pickle.dumps(AsyncClient(api_key="k"))

    async def rank() -> int:
        async with pickle.loads(data) as client:
            result = await client.rank("library", ["library hours"], cfg)
        return len(result.document_scores)

    assert anyio.run(rank) == 1


def test_a_client_with_its_own_transport_or_resolver_cannot_be_pickled() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    with pytest.raises(
        TypeError, match=r"^cannot pickle Client: it was built with a custom transport;"
    ):
        pickle.dumps(Client(api_key="k", transport=mock))
    with pytest.raises(TypeError, match="custom transport"):
        pickle.dumps(AsyncClient(api_key="k", transport=httpx.MockTransport(lambda r: None)))  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match=r"custom resolver; build the client where it is used"):
        pickle.dumps(Client(api_key="k", resolver=lambda host: []))


def test_client_config_pickles_without_the_key_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ClientConfig(api_key=KEY, base_url="http://127.0.0.1:9", retries=3)
    assert KEY not in repr(config)
    data = pickle.dumps(config)
    assert not _leaks(data, KEY)
    assert pickle.loads(data) == config
    monkeypatch.setenv("NVIDIA_APIKEY", "from-env")
    assert pickle.loads(pickle.dumps(ClientConfig())).client().api_key.value == "from-env"


def test_client_config_shares_its_rpm_budget_and_checks_its_settings() -> None:
    config = ClientConfig(requests_per_minute=600)
    assert config.share(4).requests_per_minute == 150
    assert ClientConfig().share(4).requests_per_minute is None
    from reranker_nvidia.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"wrong truncate type, available types are: \[NONE END\]"
    ):
        ClientConfig(truncate="START")
