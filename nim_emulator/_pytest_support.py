"""The pytest plugin's plumbing (nim_emulator.pytest_plugin), imported by its fixtures.

Not a port of a Go file. Kept apart from the plugin module, which every pytest run imports at
start-up: this one loads only when a test asks for a fixture, with the ``emulator`` extra.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nim_emulator._cassette import Cassette, load_cassette
from nim_emulator._config import EmulatorConfig
from nim_emulator.exceptions import CassetteError, FaultSpecError
from nim_emulator.pytest_plugin import FAULTS_MARKER
from nim_emulator.testing import InProcessEmulator, ServedEmulator

__all__ = [
    "NimCassette",
    "Watched",
    "arm_marked_faults",
    "bundled_cassette_dirs",
    "find_cassette",
    "problems",
    "report_unused",
    "watch",
]


class NimCassette:
    """What the ``nim_cassette`` fixture yields: call it with a cassette to replay it."""

    def __init__(self, request: pytest.FixtureRequest, config: EmulatorConfig) -> None:
        self._request = request
        self._config = config
        self._handles: list[ServedEmulator] = []

    def __call__(
        self, cassette: str | Path | Cassette, *, allow_unused: bool = False
    ) -> ServedEmulator:
        """An emulator replaying ``cassette`` (module docstring); ``nim_faults`` apply to it."""
        if isinstance(cassette, Cassette):
            loaded = cassette
        else:
            path = find_cassette(cassette, Path(self._request.path).parent)
            try:
                loaded = load_cassette(path)
            except CassetteError as error:
                pytest.fail(f"nim_cassette: {error}", pytrace=False)
        config = dataclasses.replace(self._config, replay=loaded)
        handle = ServedEmulator(config=config)
        self._handles.append(handle)
        arm_marked_faults(self._request, handle)
        watch(self._request, Watched("nim_cassette", handle, loaded, allow_unused))
        return handle

    def close(self) -> None:
        """Stop every emulator this fixture started."""
        for handle in self._handles:
            handle.close()


def find_cassette(cassette: str | Path, test_dir: Path) -> Path:
    """The file ``cassette`` names (module docstring); a test failure if there is none."""
    text = str(cassette)
    if isinstance(cassette, Path) or "/" in text or text.endswith((".yaml", ".yml")):
        path = Path(cassette)
        path = path if path.is_absolute() else test_dir / path
        if not path.is_file():
            pytest.fail(f"nim_cassette: no cassette file {path}", pytrace=False)
        return path
    places = [test_dir / "cassettes", *bundled_cassette_dirs()]
    for place in places:
        for suffix in (".yaml", ".yml"):
            if (place / f"{text}{suffix}").is_file():
                return place / f"{text}{suffix}"
    ours = sorted(p.stem for d in bundled_cassette_dirs() for p in d.glob("*.yaml"))
    pytest.fail(
        f"nim_cassette: no cassette named {text!r} in {', '.join(map(str, places))}; "
        f"this project's cassettes are: {', '.join(ours) or '(none found)'}",
        pytrace=False,
    )


def bundled_cassette_dirs() -> list[Path]:
    """Where this project's cassettes are: the checkout's cassettes/, or the wheel's copy."""
    found: list[Path] = []
    here = Path(__file__).resolve().parent
    checkout = here.parent / "cassettes"
    if (here.parent / "pyproject.toml").is_file() and checkout.is_dir():
        found.append(checkout)
    # The wheel carries them inside the suite's runner; located, not imported.
    spec = importlib.util.find_spec("reranker_contracts")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        wheel = Path(location) / "_suite" / "cassettes"
        if wheel.is_dir() and wheel.resolve() not in [p.resolve() for p in found]:
            found.append(wheel)
    return found


# ---- what the hooks read ---------------------------------------------------------------------


@dataclass
class Watched:
    fixture: str
    handle: InProcessEmulator
    cassette: Cassette | None = None
    allow_unused: bool = True


@dataclass
class _Watchlist:
    items: list[Watched] = field(default_factory=list)


_WATCHED = pytest.StashKey[_Watchlist]()


def watch(request: pytest.FixtureRequest, watched: Watched) -> None:
    request.node.stash.setdefault(_WATCHED, _Watchlist()).items.append(watched)


def problems(item: pytest.Item) -> list[str]:
    found: list[str] = []
    for watched in item.stash.get(_WATCHED, _Watchlist()).items:
        for mismatch in watched.handle.mismatches:
            where = f" {watched.cassette.source}" if watched.cassette is not None else ""
            found.append(
                f"{watched.fixture}: a request the cassette{where} does not hold: "
                + mismatch.describe()
            )
        if watched.cassette is not None and not watched.allow_unused:
            found.extend(_unused_lines(watched))
    return found


def _unused_lines(watched: Watched) -> list[str]:
    unused = watched.handle.unused_interactions()
    if not unused or watched.cassette is None:
        return []
    total = len(watched.cassette.interactions)
    lines = [
        f"{watched.fixture}: {len(unused)} of {total} interaction(s) of "
        f"{watched.cassette.source} not used:"
    ]
    lines += [f"  #{i.index} {i.method} {i.path} with body {i.summary()['body']!r}" for i in unused]
    return lines


def report_unused(item: pytest.Item) -> None:
    for watched in item.stash.get(_WATCHED, _Watchlist()).items:
        if watched.cassette is not None and watched.allow_unused:
            lines = _unused_lines(watched)
            if lines:
                item.add_report_section("call", "nim_cassette", "\n".join(lines))


def arm_marked_faults(request: pytest.FixtureRequest, handle: InProcessEmulator) -> None:
    specs = [
        spec
        for marker in reversed(list(request.node.iter_markers(FAULTS_MARKER)))
        for spec in marker.args
    ]
    try:
        handle.faults(*specs)
    except (FaultSpecError, TypeError) as error:
        pytest.fail(f"@pytest.mark.{FAULTS_MARKER}: {error}", pytrace=False)
