"""``reranker-nvidia contracts record``: re-record the cassettes that may be re-recorded.

A cassette whose ``provenance`` says ``recordable: true`` holds requests that
are safe to send to NVIDIA again. Recording sends each one, with the key
from ``NVIDIA_APIKEY``, and rewrites the cassette with what came back and a
provenance of ``recorded live <date>``. With ``--base-url`` the requests go
elsewhere (the emulator, in the tests) and the provenance says so: a
response from anywhere but NVIDIA is never labelled as NVIDIA's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from reranker_contracts.cassettes import read_cassette, write_cassette


class RecordError(Exception):
    """Nothing can be recorded as asked (no key, no cassette by that name)."""


NVIDIA_HOSTS = ("ai.api.nvidia.com", "integrate.api.nvidia.com")


def recordable(cassette_dir: Path, names: Sequence[str] = ()) -> list[Path]:
    """The recordable cassettes (only those named, when names are given)."""
    paths = []
    for path in sorted(cassette_dir.glob("*.yaml")):
        if names and path.stem not in names:
            continue
        provenance = read_cassette(path).metadata.get("provenance") or {}
        if provenance.get("recordable") is True:
            paths.append(path)
    return paths


def _target(uri: str, base_url: str | None) -> str:
    if base_url is None:
        return uri
    original = httpx.URL(uri)
    base = httpx.URL(base_url)
    return str(original.copy_with(scheme=base.scheme, host=base.host, port=base.port))


def record_cassette(
    path: Path,
    out_dir: Path,
    api_key: str,
    *,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    today: dt.date | None = None,
) -> Path:
    """Re-send a cassette's requests and write what came back to ``out_dir``."""
    cassette = read_cassette(path)
    day = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    interactions: list[dict[str, Any]] = []
    targets: list[str] = []
    with httpx.Client(timeout=60.0, transport=transport, follow_redirects=False) as client:
        for interaction in cassette.interactions:
            target = _target(interaction.uri, base_url)
            targets.append(target)
            try:
                body: str | bytes = interaction.body.decode("utf-8")
            except UnicodeDecodeError:
                body = interaction.body  # written back as it was read, !!binary
            response = client.request(
                interaction.method,
                target,
                content=interaction.body,
                headers={
                    "Authorization": f"Bearer {api_key}",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                },
            )
            headers: dict[str, list[str]] = {}
            for name, value in response.headers.multi_items():
                headers.setdefault(name, []).append(value)
            interactions.append(
                {
                    "request": {
                        "method": interaction.method,
                        "uri": interaction.uri,
                        "body": body,
                        "headers": {
                            "Accept": ["application/json"],
                            "Content-Type": ["application/json"],
                        },
                    },
                    "response": {
                        "status": {"code": response.status_code, "message": response.reason_phrase},
                        "headers": headers,
                        "body": {"string": response.text},
                    },
                }
            )
    live = all(httpx.URL(t).host in NVIDIA_HOSTS for t in targets)
    previous = (cassette.metadata.get("provenance") or {}).get("source", "")
    provenance = {
        "kind": "recorded-live" if live else "emulator",
        "source": f"recorded live {day} from {targets[0]}"
        if live
        else f"recorded {day} from {base_url} (not NVIDIA's service)",
        "recordable": True,
        "previous": previous,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    target_path = out_dir / path.name
    write_cassette(target_path, provenance, interactions)
    return target_path


def record(
    cassette_dir: Path,
    out_dir: Path,
    *,
    names: Sequence[str] = (),
    base_url: str | None = None,
    api_key: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[Path]:
    """Record every recordable cassette; needs a key unless another base URL is given."""
    if not api_key:
        raise RecordError(
            "NVIDIA_APIKEY is not set: nothing recorded (pass --base-url to record from "
            "somewhere else, such as the emulator)"
        )
    paths = recordable(cassette_dir, names)
    if not paths:
        raise RecordError("no recordable cassette matches")
    return [
        record_cassette(path, out_dir, api_key, base_url=base_url, transport=transport)
        for path in paths
    ]
