"""The core vendors: a copy under another name imports, ranks, and loads nothing of the original.

The core is ``reranker_nvidia/`` without the products (docs/vendoring.md). The test copies
it to ``<tmp>/myapp/_vendor/rnv/``, as a project vendoring it would, and runs
:data:`CHECK` in a fresh interpreter whose only addition to the path is ``<tmp>``. The
copy is imported module by module, then ``Client``, ``AsyncClient`` and the
``ReRankerProvider`` rank through it against the in-process emulator (a test dependency,
not part of the copy). The editable install keeps ``reranker_nvidia`` importable there, so
an absolute import in the core would quietly load the original: the check reads
``sys.modules`` for it and asserts where the copy was loaded from.

Run as a script, it checks a copy already in place (docs/vendoring.md):
``python tests/project/test_vendoring.py PROJECT_DIR myapp._vendor.rnv``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script (docs/vendoring.md), the checkout is not on it
    sys.path.insert(0, str(ROOT))

from tests.support.layout import PACKAGE, PRODUCTS  # noqa: E402 - after the path is set

VENDORED = "myapp._vendor.rnv"

CHECK = r'''
"""Import a vendored copy of the core, rank through it, and report what was loaded."""
import importlib
import json
import pkgutil
import sys

import anyio
import httpx
from nim_emulator.testing import InProcessEmulator

name = sys.argv[1]
rnv = importlib.import_module(name)
modules = [name]
for info in pkgutil.walk_packages(rnv.__path__, name + "."):
    importlib.import_module(info.name)
    modules.append(info.name)

QUERY = "the desert planet of spice"
DOCUMENTS = [
    "A recipe for lemon cake.",
    "Dune is a novel about a desert planet.",
    "Spice is mined on the desert planet Arrakis, the planet of the spice.",
    "The planet has two moons.",
]

with InProcessEmulator() as emulator:
    # What the emulator itself scores, straight from its endpoint: the expectation.
    with httpx.Client(transport=emulator.transport, base_url=emulator.base_url) as raw:
        answer = raw.post(
            "/v1/retrieval/nvidia/reranking",
            headers={"Authorization": "Bearer vendored-key"},
            json={
                "model": rnv.DEFAULT_NVIDIA_MODEL,
                "query": {"text": QUERY},
                "passages": [{"text": d} for d in DOCUMENTS],
            },
        )
    answer.raise_for_status()
    emulated = [[r["index"], r["logit"]] for r in answer.json()["rankings"]]

    cfg = rnv.ClassBasedModuleConfig.for_settings({"baseURL": emulator.base_url})
    with rnv.Client("vendored-key", transport=emulator.transport) as client:
        scores = [d.score for d in client.rank(QUERY, DOCUMENTS, cfg).document_scores]
        provider = rnv.ReRankerProvider(client)
        results = [rnv.SearchResult(schema={"text": d}) for d in DOCUMENTS]
        ranked = provider.additional_property_fn(
            results, rnv.Params(property="text", query=QUERY), cfg=cfg
        )
        provider_order = [DOCUMENTS.index(r.schema["text"]) for r in ranked]
        provider_scores = [r.additional_properties["rerank"][0].score for r in ranked]

    async def main():
        async with rnv.AsyncClient("vendored-key", transport=emulator.async_transport) as client:
            result = await client.rank(QUERY, DOCUMENTS, cfg)
        return [d.score for d in result.document_scores]

    async_scores = anyio.run(main)
    requests = len(emulator.requests)

print(json.dumps({
    "file": rnv.__file__,
    "modules": modules,
    "loaded": sorted(sys.modules),
    "emulated": emulated,
    "sync": scores,
    "async": async_scores,
    "provider_order": provider_order,
    "provider_scores": provider_scores,
    "requests": requests,
}))
'''


def vendor(target: Path) -> Path:
    """Copy the core into ``target/myapp/_vendor/rnv`` as a vendoring project would."""
    vendor_dir = target / "myapp" / "_vendor"
    vendor_dir.mkdir(parents=True)
    (target / "myapp" / "__init__.py").write_text("")
    (vendor_dir / "__init__.py").write_text("")
    copy = vendor_dir / "rnv"

    def ignored(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == PACKAGE
        return {
            n for n in names if n == "__pycache__" or (top and n.removesuffix(".py") in PRODUCTS)
        }

    shutil.copytree(PACKAGE, copy, ignore=ignored)
    return copy


def run_check(workdir: Path, package: str) -> dict[str, Any]:
    """Run :data:`CHECK` on ``package`` in a fresh interpreter, with only ``workdir`` added."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NVIDIA_", "MODULES_", "PYTHON", "COV_", "COVERAGE_"))
    }
    environment["PYTHONPATH"] = str(workdir)
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "check_vendored.py"
        script.write_text(CHECK, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-P", str(script), package],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=workdir,
            env=environment,
        )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def check(result: dict[str, Any], copy: Path) -> None:
    """What :data:`CHECK` reported about the copy in ``copy`` is right."""
    # The copy, and only the copy, was loaded: nothing named reranker_nvidia.
    assert Path(result["file"]).resolve() == (copy / "__init__.py").resolve()
    leaked = [m for m in result["loaded"] if m.split(".")[0] == "reranker_nvidia"]
    assert leaked == [], "the copy loaded the original: an absolute import in the core?"
    core = list(copy.rglob("*.py"))
    assert len(result["modules"]) == len(core) > 30  # every module of the copy was imported
    assert set(result["modules"]) <= set(result["loaded"])

    # The scores are the emulator's: one per document, in input order, as it ranks them.
    emulated = result["emulated"]
    assert sorted(index for index, _ in emulated) == list(range(4))
    logits = [logit for _, logit in sorted(emulated)]
    assert len(set(logits)) == len(logits)  # distinct: the order below is decided
    assert result["sync"] == logits
    assert result["async"] == logits
    assert result["provider_order"] == [index for index, _ in emulated]
    assert result["provider_order"] != sorted(result["provider_order"])  # the provider sorted
    assert result["provider_scores"] == [logit for _, logit in emulated]
    assert result["requests"] == 4  # the expectation's, the client's, the provider's, async


def test_a_vendored_copy_ranks_and_loads_nothing_of_the_original(tmp_path: Path) -> None:
    copy = vendor(tmp_path)
    assert [p for p in PRODUCTS if (copy / p).exists() or (copy / f"{p}.py").exists()] == []
    assert (copy / "py.typed").exists()
    check(run_check(tmp_path, VENDORED), copy)


if (
    __name__ == "__main__"
):  # python tests/project/test_vendoring.py PROJECT_DIR PACKAGE (docs/vendoring.md)
    project, package = Path(sys.argv[1]).resolve(), sys.argv[2]
    check(run_check(project, package), project.joinpath(*package.split(".")))
    sys.stdout.write(f"{package} in {project}: it ranks, and loads nothing of reranker_nvidia\n")
