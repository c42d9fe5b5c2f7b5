"""The three packages' import rules, checked in a fresh interpreter per package.

- nothing in ``reranker_nvidia`` outside ``cli/`` imports the emulator or the runner;
- ``nim_emulator`` imports nothing of ``reranker_nvidia`` (nor of the runner);
- ``reranker_contracts`` (the runner) never imports ``reranker_nvidia``.

Each check imports every module of a package (but the excluded ones) in a
subprocess and reads ``sys.modules``, so an import made at module level
anywhere in the package is seen, however indirect.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, json, pkgutil, sys
package, excluded = sys.argv[1], sys.argv[2:]
root = importlib.import_module(package)
names = [package]
for info in pkgutil.walk_packages(root.__path__, package + "."):
    if info.name.endswith(".__main__"):  # running it is not importing it
        continue
    if any(info.name == e or info.name.startswith(e + ".") for e in excluded):
        continue
    importlib.import_module(info.name)
    names.append(info.name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""

RULES = [
    pytest.param(
        "reranker_nvidia",
        ["reranker_nvidia.cli"],
        ["nim_emulator", "reranker_contracts"],
        id="the-port-outside-cli-imports-neither-emulator-nor-runner",
    ),
    pytest.param(
        "nim_emulator",
        [],
        ["reranker_nvidia", "reranker_contracts"],
        id="the-emulator-imports-nothing-of-the-port",
    ),
    pytest.param(
        "reranker_contracts",
        [],
        ["reranker_nvidia"],
        id="the-runner-never-imports-the-port",
    ),
]


def _probe(package: str, excluded: list[str]) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, package, *excluded],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(("package", "excluded", "forbidden"), RULES)
def test_import_rules(package: str, excluded: list[str], forbidden: list[str]) -> None:
    result = _probe(package, excluded)
    assert len(result["imported"]) > 3, result["imported"]  # the walk found the package's modules
    leaked = [
        name
        for name in result["loaded"]
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert leaked == []


def test_the_probe_sees_an_import_it_must_refuse() -> None:
    # The CLI may import the runner, so walking reranker_nvidia with cli/ included must see it:
    # without this the rule above could pass because the probe saw nothing.
    result = _probe("reranker_nvidia", [])
    assert "reranker_contracts" in result["loaded"]
