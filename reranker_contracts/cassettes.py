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
No cassette holds an ``Authorization`` header or a key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

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


def read_cassette(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise CassetteFileError(f"{path}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise CassetteFileError(f"{path}: not a vcrpy cassette (no interactions list)")
    return data


def problems(path: Path) -> list[str]:
    """What is wrong with a cassette file: format, provenance, secrets."""
    try:
        data = read_cassette(path)
    except CassetteFileError as err:
        return [str(err)]
    found: list[str] = []
    provenance = data.get("provenance")
    if not isinstance(provenance, dict):
        found.append(f"{path.name}: no provenance mapping")
    else:
        if provenance.get("kind") not in PROVENANCE_KINDS:
            found.append(
                f"{path.name}: provenance kind must be one of {', '.join(PROVENANCE_KINDS)}"
            )
        if not isinstance(provenance.get("source"), str) or not provenance["source"].strip():
            found.append(f"{path.name}: provenance needs a source")
    if data.get("version") != 1:
        found.append(f"{path.name}: version must be 1")
    for index, interaction in enumerate(data["interactions"]):
        request = interaction.get("request", {}) if isinstance(interaction, dict) else {}
        response = interaction.get("response", {}) if isinstance(interaction, dict) else {}
        if not request.get("method") or not request.get("uri"):
            found.append(f"{path.name}: interaction {index} lacks a request method or uri")
        if not isinstance(response.get("status"), dict):
            found.append(f"{path.name}: interaction {index} lacks a response status")
        for name in request.get("headers") or {}:
            if name.lower() in SECRET_HEADERS:
                found.append(f"{path.name}: interaction {index} keeps the secret header {name}")
    return found


def load_interactions(path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette, as plain data to hand to the emulator."""
    return list(read_cassette(path)["interactions"])


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
