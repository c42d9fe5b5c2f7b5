"""Fixtures for the emulator tests: both front ends, moto style, and the real NVIDIA captures.

``make_emu`` is parametrized over ``in-process`` (``httpx.ASGITransport``) and
``server`` (``running_emulator`` on 127.0.0.1), so every test that uses it
runs against both; ``make_socket_emu`` is the server alone, for what only a
socket can show (a client's timeout, headers before the body). ``capture``
reads a file of the repository's capture folder, ``contracts/captures/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from nim_emulator import EmulatorConfig, create_app, running_emulator

from ._support import CAPTURES, KEY, Emu, EmuFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def front_end(mode: str) -> AsyncIterator[EmuFactory]:
    """A factory of emulators on one front end, all stopped when the block exits."""
    async with contextlib.AsyncExitStack() as stack:

        async def factory(config: EmulatorConfig | None = None) -> Emu:
            app = create_app(config)
            if mode == "in-process":
                client = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://emulator.test"
                )
            else:
                url = stack.enter_context(running_emulator(app=app))
                client = httpx.AsyncClient(base_url=url)
            await stack.enter_async_context(client)
            return Emu(mode, app, client)

        yield factory


@pytest.fixture(params=["in-process", "server"])
async def make_emu(request: pytest.FixtureRequest) -> AsyncIterator[EmuFactory]:
    async with front_end(request.param) as factory:
        yield factory


# Some behaviours exist only on a socket: in-process, httpx.ASGITransport has no connection for
# a client's timeout to close, and it buffers the whole response, so headers never arrive before
# the body. Their tests run on the server front end alone; no in-process case is generated.
@pytest.fixture(params=[pytest.param("server", id="server-only")])
async def make_socket_emu(request: pytest.FixtureRequest) -> AsyncIterator[EmuFactory]:
    async with front_end(request.param) as factory:
        yield factory


@pytest.fixture
async def emu(make_emu: EmuFactory) -> Emu:
    return await make_emu(EmulatorConfig(api_key=KEY))


@pytest.fixture
def capture() -> Callable[[str], bytes]:
    def read(relative: str) -> bytes:
        return (CAPTURES / relative).read_bytes()

    return read
