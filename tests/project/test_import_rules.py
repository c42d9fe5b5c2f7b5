"""The three packages' import rules, checked in a fresh interpreter per package.

- nothing in ``reranker_nvidia`` outside ``cli/`` imports the emulator or the runner;
- ``nim_emulator`` imports nothing of ``reranker_nvidia`` (nor of the runner);
- ``reranker_contracts`` (the runner) never imports ``reranker_nvidia``.

Each check imports every module of a package (but the excluded ones) in a
subprocess and reads ``sys.modules``, so an import made at module level
anywhere in the package is seen, however indirect. Inside the port, the
layers of the Go mirror only point down: that is read from the source, so an
import inside a function counts too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.layout import PRODUCTS

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


# Layers of the Go mirror, lowest first: a module imports only from its own layer or below.
# Go's standard library and the error tree are the ground floor; the entities Weaviate's core
# defines come next; then usecases, the shared module components, the module's own packages,
# the module, and on top what is ours alone (the CLI and the contract adapter).
LAYERS = {
    "reranker_nvidia._gostd": 0,
    "reranker_nvidia.errors": 0,
    "reranker_nvidia.entities": 1,
    "reranker_nvidia.usecases": 2,
    "reranker_nvidia.modulecomponents": 3,
    "reranker_nvidia.config": 4,
    "reranker_nvidia.clients": 4,
    "reranker_nvidia.extensions": 4,
    "reranker_nvidia.class_configurator": 4,
    "reranker_nvidia.module": 5,
    "reranker_nvidia": 5,
    "reranker_nvidia.cli": 6,
    "reranker_nvidia.bulk": 6,
    "reranker_nvidia.contract_adapter": 6,
    "reranker_nvidia.weaviate": 6,
    "reranker_nvidia.__main__": 6,
}
PACKAGE = Path(__file__).resolve().parents[2] / "reranker_nvidia"


def layer_of(module: str) -> int:
    """The layer of the longest prefix of ``module`` named in LAYERS."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer")


def absolute(module: str, level: int, target: str | None, *, package: bool = False) -> str:
    """The absolute name of ``from <level dots><target> import …`` written in ``module``.

    ``package`` says ``module`` is a package's ``__init__``, whose one dot is itself.
    """
    if level == 0:
        return target or ""
    parts = module.split(".")
    base = parts if package else parts[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def upward_imports(module: str, source: str, *, package: bool = False) -> list[str]:
    """The imports of ``source`` (anywhere in it, also inside functions) that point up.

    Relative imports count as the absolute names they stand for.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            targets = [absolute(module, node.level, node.module, package=package)]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "reranker_nvidia" or target.startswith(module + "."):
                continue
            if layer_of(target) > layer_of(module):
                found.append(f"{module} imports {target}")
    return found


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def test_layers_only_point_down() -> None:
    modules = _modules()
    assert len(modules) > 30
    problems = [
        problem
        for name, path in modules
        for problem in upward_imports(
            name, path.read_text(encoding="utf-8"), package=_is_package(path)
        )
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source", "upward"),
    [
        pytest.param(
            "reranker_nvidia.entities.x",
            "from reranker_nvidia.modulecomponents.header_values import f",
            True,
            id="entities-to-modulecomponents",
        ),
        pytest.param(
            "reranker_nvidia._gostd.x",
            "def f():\n    import reranker_nvidia.clients.ranker",
            True,
            id="a-function-level-import",
        ),
        pytest.param(
            "reranker_nvidia.clients.ranker",
            "from reranker_nvidia.errors import RerankerError",
            False,
            id="downward",
        ),
        pytest.param(
            "reranker_nvidia.entities.search.result",
            "from ...modulecomponents.header_values import f",
            True,
            id="a-relative-upward-import",
        ),
        pytest.param(
            "reranker_nvidia.clients.ranker",
            "from ..errors import RerankerError",
            False,
            id="a-relative-downward-import",
        ),
    ],
)
def test_the_layer_check_sees_an_upward_import(module: str, source: str, upward: bool) -> None:
    assert bool(upward_imports(module, source)) is upward


def absolute_self_imports(source: str) -> list[str]:
    """The imports of ``source`` that name ``reranker_nvidia`` absolutely."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name.split(".")[0] == "reranker_nvidia"]
    return found


def test_the_core_imports_itself_relatively() -> None:
    # A vendored copy lives under another name: an absolute import would reach for the original.
    core = [
        (name, path)
        for name, path in _modules()
        if name.split(".")[1:2] == [] or name.split(".")[1] not in PRODUCTS
    ]
    assert len(core) > 30
    problems = [
        f"{name} imports {target}"
        for name, path in core
        for target in absolute_self_imports(path.read_text(encoding="utf-8"))
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "absolute_import"),
    [
        pytest.param("from reranker_nvidia.errors import E", True, id="from-absolute"),
        pytest.param("def f():\n    import reranker_nvidia.module", True, id="import-in-function"),
        pytest.param("from ..errors import E", False, id="relative"),
        pytest.param("from httpx import Client", False, id="another-package"),
    ],
)
def test_the_relative_rule_sees_an_absolute_import(source: str, absolute_import: bool) -> None:
    assert bool(absolute_self_imports(source)) is absolute_import


def private_core_imports(module: str, source: str) -> list[str]:
    """The imports in ``source`` of a product that reach a private part of the core.

    Private: a module whose dotted path has a part starting with ``_`` (``clients._sending``,
    ``_gostd``), or a name starting with ``_`` imported from the core.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            target = absolute(module, node.level, node.module)
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            target, names = "", []
            for alias in node.names:
                if alias.name.split(".")[0] == "reranker_nvidia":
                    target = alias.name
        else:
            continue
        parts = target.split(".")
        if parts[0] != "reranker_nvidia" or (parts[1:2] and parts[1] in PRODUCTS):
            continue
        private_path = any(p.startswith("_") and not p.startswith("__") for p in parts[1:])
        private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private_path or private_names:
            found.append(f"{module} imports {target} {sorted(private_names) or ''}".rstrip())
    return found


def test_products_use_only_the_public_names_of_the_core() -> None:
    products = [
        (name, path)
        for name, path in _modules()
        if name.split(".")[1:2] and name.split(".")[1] in PRODUCTS
    ]
    assert len(products) > 10
    problems = [
        problem
        for name, path in products
        for problem in private_core_imports(name, path.read_text(encoding="utf-8"))
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "private"),
    [
        pytest.param(
            "from reranker_nvidia.clients._sending import Post", True, id="private-module"
        ),
        pytest.param("from reranker_nvidia._gostd.context import H", True, id="private-package"),
        pytest.param("from reranker_nvidia.clients.ranker import _Client", True, id="private-name"),
        pytest.param("def f():\n    import reranker_nvidia._gostd.url", True, id="plain-import"),
        pytest.param("from reranker_nvidia import Client", False, id="the-root"),
        pytest.param(
            "from reranker_nvidia.extensions.settings import SETTINGS", False, id="public"
        ),
        pytest.param("from reranker_nvidia.bulk._config import C", False, id="a-products-own"),
    ],
)
def test_the_public_names_rule_sees_a_private_import(source: str, private: bool) -> None:
    assert bool(private_core_imports("reranker_nvidia.cli.x", source)) is private
