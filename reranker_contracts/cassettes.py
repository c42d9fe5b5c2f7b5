"""Cassettes: recorded NIM traffic in vcrpy's format, with provenance that survives loading.

A cassette file (``cassettes/<name>.yaml``) is vcrpy's version 1 format plus
one top-level ``provenance`` mapping that says where its responses came from::

    provenance:
      kind: capture | published-example | go-test | emulator | hand-built | recorded-live
      source: what exactly (a file of contracts/captures/, a URL, a Go test, a date)
      recordable: true        # the request may be re-sent to NVIDIA to re-record it
    version: 1
    interactions: [...]

vcrpy ignores keys it does not know, so the file loads in vcrpy unchanged.
No cassette holds an ``Authorization`` header or a key. Cassettes are read with the
emulator's typed reader (``nim_emulator.load_cassette``), the one replay uses, so what
``contracts check`` accepts is what a run can load; this module only adds the suite's own
rules, and writes cassettes for ``record``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from nim_emulator import Cassette

PROVENANCE_KINDS = (
    "capture",
    "published-example",
    "go-test",
    "emulator",
    "hand-built",
    "recorded-live",
)
SECRET_HEADERS = frozenset({"authorization", "x-nvidia-api-key", "proxy-authorization", "cookie"})


class CassetteFileError(Exception):
    """A cassette file cannot be read, or breaks the rules above."""


def read_cassette(path: Path) -> Cassette:
    """The cassette, read by the emulator's own typed reader (what replay will load).

    Its other top-level keys, ``provenance`` among them, are in ``metadata``.
    """
    from nim_emulator import CassetteError, load_cassette  # noqa: PLC0415 - the contracts extra

    try:
        return load_cassette(path)
    except CassetteError as err:
        raise CassetteFileError(str(err)) from None


def problems(path: Path) -> list[str]:
    """What is wrong with a cassette file: what the emulator refuses, provenance, secrets."""
    try:
        cassette = read_cassette(path)
    except CassetteFileError as err:
        return [f"{path.name}: {err}"]
    found: list[str] = []
    provenance = cassette.metadata.get("provenance")
    if not isinstance(provenance, dict):
        found.append(f"{path.name}: no provenance mapping")
    else:
        if provenance.get("kind") not in PROVENANCE_KINDS:
            found.append(
                f"{path.name}: provenance kind must be one of {', '.join(PROVENANCE_KINDS)}"
            )
        if not isinstance(provenance.get("source"), str) or not provenance["source"].strip():
            found.append(f"{path.name}: provenance needs a source")
    for interaction in cassette.interactions:
        for name, _ in interaction.request_headers:
            if name.lower() in SECRET_HEADERS:
                found.append(
                    f"{path.name}: interaction {interaction.index} keeps the secret header {name}"
                )
    return found


def write_cassette(
    path: Path, provenance: dict[str, Any], interactions: list[dict[str, Any]]
) -> None:
    """Write a cassette, provenance first; secret request headers are dropped before writing."""
    clean = []
    for interaction in interactions:
        request = dict(interaction["request"])
        headers = request.get("headers") or {}
        request["headers"] = {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
        clean.append({"request": request, "response": interaction["response"]})
    document = {"provenance": provenance, "version": 1, "interactions": clean}
    path.write_text(
        yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1 << 16),
        encoding="utf-8",
    )
