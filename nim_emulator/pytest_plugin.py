"""The pytest plugin: the NIM emulator and the cassettes, as fixtures for any project's tests.

Not a port of a Go file. Installed with the package (a ``pytest11`` entry point),
so a project that installs ``reranker-nvidia[emulator]`` gets, with no set-up:

* ``nim_emulator`` — a :class:`~nim_emulator.testing.ServedEmulator`: the
  emulator on 127.0.0.1 for one test (``.base_url``, ``.requests``,
  ``.fault(spec)``, ``.faults(*specs)``, ``.reset()``, and the in-process
  transports on the same state); stopped after the test.
* ``nim_emulator_inprocess`` — an :class:`~nim_emulator.testing.InProcessEmulator`:
  no socket; ``.transport`` (sync) and ``.async_transport`` for httpx clients,
  ``.base_url`` a placeholder, the same log and fault API.
* ``nim_cassette`` — a function: ``nim_cassette("error-429-too-many-requests")``
  (one of this project's cassettes, by name), ``nim_cassette("cassettes/mine.yaml")``
  (a vcrpy file, relative to the test's folder) or a name found in the test's
  ``cassettes/`` folder; it returns a ``ServedEmulator`` replaying it. A
  request the cassette does not hold fails the test, and so does an
  interaction left unused (``allow_unused=True``: only reported).
* ``nim_emulator_config`` — the :class:`~nim_emulator.EmulatorConfig` the three
  use; override it in a ``conftest.py`` to change it.
* ``@pytest.mark.nim_faults("status=503,count=1", ...)`` — faults armed on each
  emulator the test gets, before the test runs (class and module markers
  first, then the function's).
* ``--nim-latency-ms MS`` and ``--nim-api-key KEY`` — the defaults of
  ``nim_emulator_config``.

This module imports nothing but pytest and the standard library at import
time: without the ``emulator`` extra, pytest still runs, and a test that asks
for a fixture errors with one line saying what to install. Its plumbing
(``_pytest_support``) loads with the first fixture a test asks for.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from nim_emulator._config import EmulatorConfig
    from nim_emulator._pytest_support import NimCassette
    from nim_emulator.testing import InProcessEmulator, ServedEmulator

__all__ = [
    "nim_cassette",
    "nim_emulator",
    "nim_emulator_config",
    "nim_emulator_inprocess",
]

FAULTS_MARKER: Final = "nim_faults"
FIXTURES: Final = ("nim_emulator", "nim_emulator_inprocess", "nim_cassette")
INSTALL_HINT: Final = "pip install 'reranker-nvidia[emulator]'"
EXTRA_MODULES: Final = frozenset({"starlette", "uvicorn", "yaml"})


# ---- hooks ----------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nim-emulator", "the NIM emulator fixtures (reranker-nvidia)")
    group.addoption(
        "--nim-latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="wait MS ms before every emulated answer (default 0)",
    )
    group.addoption(
        "--nim-api-key",
        default=None,
        metavar="KEY",
        help="the emulator's key: hosted requests with another bearer token get 403 "
        "(default: any well-formed token is accepted)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{FAULTS_MARKER}(*specs): arm these emulator faults (e.g. 'status=503,count=1') "
        f"before the test, on each of {', '.join(FIXTURES)} it uses",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(FAULTS_MARKER) is None:
        return
    if not set(FIXTURES) & set(getattr(item, "fixturenames", ())):
        pytest.fail(
            f"@pytest.mark.{FAULTS_MARKER} needs one of the fixtures {', '.join(FIXTURES)}",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body: fail it on a request a cassette lacked, or an unused interaction."""
    support = sys.modules.get("nim_emulator._pytest_support")  # loaded by the fixtures, if used
    try:
        yield
    except BaseException:
        found = support.problems(item) if support is not None else []
        if found:
            item.add_report_section("call", "nim_emulator", "\n".join(found))
        raise
    if support is not None:
        found = support.problems(item)
        if found:
            pytest.fail("\n".join(found), pytrace=False)
        support.report_unused(item)


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def nim_emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
    """The emulator's settings (``--nim-latency-ms``, ``--nim-api-key``); override freely."""
    with _emulator_extra():
        from nim_emulator import EmulatorConfig  # noqa: PLC0415

    return EmulatorConfig(
        api_key=request.config.getoption("--nim-api-key"),
        latency_ms=request.config.getoption("--nim-latency-ms"),
    )


@pytest.fixture
def nim_emulator(
    request: pytest.FixtureRequest, nim_emulator_config: EmulatorConfig
) -> Iterator[ServedEmulator]:
    """The emulator on 127.0.0.1 for this test; its server is stopped after it."""
    with _emulator_extra():
        from nim_emulator._pytest_support import Watched, arm_marked_faults, watch  # noqa: PLC0415
        from nim_emulator.testing import ServedEmulator  # noqa: PLC0415

    with ServedEmulator(config=nim_emulator_config) as handle:
        arm_marked_faults(request, handle)
        watch(request, Watched("nim_emulator", handle))
        yield handle


@pytest.fixture
def nim_emulator_inprocess(
    request: pytest.FixtureRequest, nim_emulator_config: EmulatorConfig
) -> Iterator[InProcessEmulator]:
    """The emulator with no socket: ``.transport`` / ``.async_transport`` for httpx clients."""
    with _emulator_extra():
        from nim_emulator._pytest_support import Watched, arm_marked_faults, watch  # noqa: PLC0415
        from nim_emulator.testing import InProcessEmulator  # noqa: PLC0415

    with InProcessEmulator(config=nim_emulator_config) as handle:
        arm_marked_faults(request, handle)
        watch(request, Watched("nim_emulator_inprocess", handle))
        yield handle


@pytest.fixture
def nim_cassette(
    request: pytest.FixtureRequest, nim_emulator_config: EmulatorConfig
) -> Iterator[NimCassette]:
    """``nim_cassette(name_or_path)``: an emulator on 127.0.0.1 replaying that cassette."""
    with _emulator_extra():
        from nim_emulator._pytest_support import NimCassette  # noqa: PLC0415

    player = NimCassette(request, nim_emulator_config)
    try:
        yield player
    finally:
        player.close()


@contextlib.contextmanager
def _emulator_extra() -> Iterator[None]:
    """Turn a missing ``emulator`` extra into a one-line test error."""
    missing: str | None = None
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name not in EXTRA_MODULES:
            raise
        missing = error.name
    if missing is not None:
        message = (
            f"the nim_emulator fixtures need the 'emulator' extra: {INSTALL_HINT} "
            f"(No module named {missing!r})"
        )
        raise pytest.fail.Exception(message, pytrace=False) from None
