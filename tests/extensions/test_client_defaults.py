"""``Client(base_url=…, model=…)``: defaults for calls whose class settings do not set them.

``bulk.ClientConfig`` and ``weaviate.rerank`` took ``base_url=`` and ``model=``,
``Client`` did not. Two rows of extensions/settings.py declare them; Go's class settings
``baseURL`` and ``model`` still win for the call that passes them, and the
``X-Nvidia-Baseurl`` header over both, as in Weaviate. Without either, a call goes to
NVIDIA's public API (``https://ai.api.nvidia.com``) with ``nvidia/rerank-qa-mistral-4b``.
"""

from __future__ import annotations

import json
import pickle

import anyio
import httpx
import pytest

from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client, ConfigError
from reranker_nvidia.bulk import ClientConfig
from tests.extensions._support import BASE, Recorder

OTHER = "http://other.test"


def sent(recorder: Recorder) -> list[tuple[str, str]]:
    return [(str(r.url), json.loads(r.content)["model"]) for r in recorder.requests]


def test_a_call_without_class_settings_uses_the_clients_base_url_and_model() -> None:
    recorder = Recorder()
    with Client("k", transport=httpx.MockTransport(recorder), base_url=BASE, model="m/x") as c:
        c.rank("q", ["a"])
        c.rank("q", ["a"], ClassBasedModuleConfig.for_settings({}))
    assert sent(recorder) == [(f"{BASE}/v1/retrieval/nvidia/reranking", "m/x")] * 2


def test_the_class_settings_win_each_on_its_own() -> None:
    recorder = Recorder()
    with Client("k", transport=httpx.MockTransport(recorder), base_url=BASE, model="m/x") as c:
        c.rank("q", ["a"], ClassBasedModuleConfig.for_settings({"baseURL": OTHER}))
        c.rank("q", ["a"], ClassBasedModuleConfig.for_settings({"model": "m/y"}))
        c.rank("q", ["a"], headers={"X-Nvidia-Baseurl": OTHER})
    assert sent(recorder) == [
        (f"{OTHER}/v1/retrieval/nvidia/reranking", "m/x"),
        (f"{BASE}/v1/retrieval/nvidia/reranking", "m/y"),
        (f"{OTHER}/v1/retrieval/nvidia/reranking", "m/x"),
    ]


def test_without_either_a_call_goes_to_nvidias_public_api() -> None:
    recorder = Recorder()
    with Client("k", transport=httpx.MockTransport(recorder)) as c:
        c.rank("q", ["a"])
    assert sent(recorder) == [
        ("https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking", "nvidia/rerank-qa-mistral-4b")
    ]


def test_the_async_client_takes_them_too() -> None:
    recorder = Recorder()

    async def main() -> None:
        transport = httpx.MockTransport(recorder)
        async with AsyncClient("k", transport=transport, base_url=BASE, model="m/x") as c:
            await c.rank("q", ["a"])

    anyio.run(main)
    assert sent(recorder) == [(f"{BASE}/v1/retrieval/nvidia/reranking", "m/x")]


def test_they_work_with_the_other_extensions() -> None:
    recorder = Recorder()
    with Client(
        "k", transport=httpx.MockTransport(recorder), base_url=BASE, endpoint="ranking"
    ) as c:
        c.rank("q", ["a"])
    assert recorder.paths == ["/v1/ranking"]
    assert str(recorder.requests[0].url).startswith(BASE)


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("base_url", 5, "base_url must be a string, not 5"),
        ("model", ["m"], "model must be a string, not ['m']"),
    ],
)
def test_a_value_that_is_not_text_is_refused(keyword: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message.replace('[', '.').replace(']', '.')}$"):
        Client("k", **{keyword: value})


def test_they_travel_in_a_pickle() -> None:
    client = pickle.loads(pickle.dumps(Client("k", base_url=BASE, model="m/x")))
    assert client.extensions == {"base_url": BASE, "model": "m/x"}


def test_client_config_declares_them_once_with_the_table() -> None:
    config = ClientConfig(base_url=BASE, model="m/x")
    assert (config.base_url, config.model) == (BASE, "m/x")
    cfg = config.class_config()
    assert cfg is not None
    assert dict(cfg.class_by_module_name("reranker-nvidia")) == {"baseURL": BASE, "model": "m/x"}
