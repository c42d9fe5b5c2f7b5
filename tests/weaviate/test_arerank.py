"""``arerank``: the async twin, on an ``AsyncClient`` and a ``WeaviateAsyncClient``'s headers.

The NIM is the emulator in-process (``httpx.ASGITransport``): no socket.
"""

from __future__ import annotations

import httpx
import pytest
import weaviate
from weaviate.classes.query import Rerank
from weaviate.connect import ConnectionParams

from nim_emulator import EmulatorConfig, create_app
from reranker_nvidia import AsyncClient, Client, ParamsError
from reranker_nvidia.weaviate import arerank, rerank

from ._support import KEY, QUERY, Emulator, group_by_return, query_return

pytestmark = pytest.mark.anyio
BASE = "http://emulator.test"


def in_process() -> tuple[AsyncClient, Emulator]:
    app = create_app(EmulatorConfig(api_key=KEY))
    client = AsyncClient(KEY, transport=httpx.ASGITransport(app=app))
    return client, Emulator(BASE, app.state.emulator)


async def test_arerank_gives_what_rerank_gives(emulator: Emulator) -> None:
    expected = rerank(
        query_return(), Rerank(prop="text", query=QUERY), base_url=emulator.base_url, api_key=KEY
    )
    client, nim = in_process()
    async with client:
        ranked = await arerank(
            query_return(), Rerank(prop="text", query=QUERY), base_url=BASE, nvidia_client=client
        )
    assert ranked == expected
    assert nim.bodies() == emulator.bodies()


async def test_arerank_makes_its_own_client_on_the_socket(emulator: Emulator) -> None:
    ranked = await arerank(
        group_by_return({"a": ["Parking."], "b": ["Library opens 9."]}),
        prop="text",
        query=QUERY,
        base_url=emulator.base_url,
        api_key=KEY,
    )
    assert list(ranked.groups) == ["b", "a"]
    assert ranked.groups["b"].rerank_score is not None


async def test_a_weaviate_async_clients_headers_are_used() -> None:
    app = create_app(EmulatorConfig(api_key=KEY))
    weaviate_client = weaviate.WeaviateAsyncClient(
        connection_params=ConnectionParams.from_url("http://127.0.0.1:9", 50051),
        additional_headers={"X-Nvidia-Api-Key": KEY},
        skip_init_checks=True,
    )
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("wrong-key", transport=transport) as keyed:
        await arerank(
            query_return(),
            prop="text",
            query=QUERY,
            client=weaviate_client,
            base_url=BASE,
            nvidia_client=keyed,
        )
    (record,) = app.state.emulator.requests
    assert record.auth == "valid"  # the header's key, not the client's


async def test_the_wrong_kind_of_client_is_named() -> None:
    with (
        Client(KEY) as sync_client,
        pytest.raises(TypeError, match="nvidia_client is not async: use rerank"),
    ):
        await arerank(query_return(), prop="text", nvidia_client=sync_client)  # type: ignore[arg-type]
    client, _ = in_process()
    async with client:
        with pytest.raises(TypeError, match="nvidia_client is async: use arerank"):
            rerank(query_return(), prop="text", nvidia_client=client)  # type: ignore[arg-type]


async def test_arerank_refuses_a_property_no_result_has_before_sending() -> None:
    client, nim = in_process()
    async with client:
        with pytest.raises(ParamsError, match=r"^no search result has the property 'title' "):
            await arerank(query_return(), prop="title", query=QUERY, nvidia_client=client)
    assert nim.bodies() == []
