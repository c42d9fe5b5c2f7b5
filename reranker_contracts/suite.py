"""Finding and loading the contract suite: case files under ``contracts/cases/``.

A case file is ``contracts/cases/{valid|invalid}/<area>.json``; ``valid``
cases end in an outcome, ``invalid`` ones in an error. contracts/README.md
defines every field.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

PLACEHOLDER_BASE = "{{base}}"
PLACEHOLDER_HOSTPORT = "{{hostport}}"
PLACEHOLDER_CLOSED_HOSTPORT = "{{closed_hostport}}"
PLACEHOLDER_PADDING = re.compile(r"\{\{padding:(\d{1,9})\}\}")
"""``{{padding:N}}``: N letters ``A`` (a base64 zero), for a string too long to write out."""


# The class settings of the port's extensions (contracts/README.md, "Extensions"): the Go
# module reads only ``model`` and ``baseURL``. A case that sets one carries the tag below.
EXTENSION_SETTINGS = (
    "endpoint",
    "truncate",
    "retries",
    "requestsPerMinute",
    "maxDocuments",
    "maxConcurrency",
    "waitReady",
    "onError",
    "scoreTransform",
    "minScore",
    "usage",
    "cache",
    "trace",
)
EXTENSION_TAG = "extension"
# Members of ``expect`` that only the extensions' cases use.
EXTENSION_EXPECT = ("warnings", "min_request_gap", "usage")
# Members of ``input`` that only the extensions' cases use: ``calls``, one client's calls.
EXTENSION_INPUT = ("calls",)
# The tag of a case that gives the implementation an address that is not provably this
# machine's loopback (contracts/README.md, "Tags"): the runner runs it only in a loopback-only
# network namespace. The runner derives it from the input (``off_machine_addresses``), and
# ``contracts check`` requires the tag on exactly those cases.
OFF_MACHINE_TAG = "off-machine-address"
# What an implementation dials when a case gives no base URL at all (Go's default).
DEFAULT_BASE_URL = "https://ai.api.nvidia.com"
DIALLING_KINDS = ("rank", "rerank")


class SuiteError(Exception):
    """The suite cannot be found or read."""


@dataclass(frozen=True, slots=True)
class Case:
    """One case, as written in its file."""

    id: str
    description: str
    kind: str
    input: Mapping[str, Any]
    expect: Mapping[str, Any]
    source: Mapping[str, Any]
    file: Path
    validity: str
    upstream: Mapping[str, Any] = field(default_factory=dict)
    go_expect: Mapping[str, Any] | None = None
    divergence: Mapping[str, Any] | None = None
    live: bool = False
    go_skip: str | None = None
    tags: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], file: Path) -> Case:
        return cls(
            id=raw["id"],
            description=raw["description"],
            kind=raw["kind"],
            input=raw["input"],
            expect=raw["expect"],
            source=raw["source"],
            file=file,
            validity=file.parent.name,
            upstream=raw.get("upstream", {}),
            go_expect=raw.get("go_expect"),
            divergence=raw.get("divergence"),
            live=bool(raw.get("live", False)),
            go_skip=raw.get("go_skip"),
            tags=tuple(raw.get("tags", ())),
        )


def extension_uses(raw: Mapping[str, Any]) -> list[str]:
    """What in a case (as written in its file) needs the port's extensions, if anything."""
    found: list[str] = []
    input_ = raw.get("input") or {}
    configs = [input_.get("settings") or {}]
    class_def = input_.get("class")
    if isinstance(class_def, dict) and isinstance(class_def.get("moduleConfig"), dict):
        configs.extend(v for v in class_def["moduleConfig"].values() if isinstance(v, dict))
    for config in configs:
        found.extend(f"the setting {key}" for key in EXTENSION_SETTINGS if key in config)
    if any(isinstance(document, dict) for document in input_.get("documents") or []):
        found.append("a passage object")
    found.extend(f"expect.{key}" for key in EXTENSION_EXPECT if key in (raw.get("expect") or {}))
    found.extend(f"input.{key}" for key in EXTENSION_INPUT if key in input_)
    return found


def dial_targets(kind: str, input_: Mapping[str, Any]) -> list[str]:
    """The URLs a case gives an implementation to dial, as written (placeholders and all).

    For ``rank`` and ``rerank``: every ``X-Nvidia-Baseurl`` header, every ``baseURL`` of the
    class settings, Go's default when no setting names one, and the web address of an image
    passage (an implementation might fetch it). The other kinds make no request.
    """
    if kind not in DIALLING_KINDS:
        return []
    urls = [
        str(value)
        for name, value in input_.get("headers") or []
        if str(name).lower() == "x-nvidia-baseurl"
    ]
    configs: list[Any] = [input_.get("settings") or {}]
    class_def = input_.get("class")
    if isinstance(class_def, dict) and isinstance(class_def.get("moduleConfig"), dict):
        configs.extend(class_def["moduleConfig"].values())
    given = [c["baseURL"] for c in configs if isinstance(c, dict) and "baseURL" in c]
    urls.extend(str(url) for url in given)
    if not given:
        urls.append(DEFAULT_BASE_URL)
    for document in input_.get("documents") or []:
        image = document.get("image") if isinstance(document, dict) else None
        if isinstance(image, str) and not image.startswith("data:"):
            urls.append(image)
    return urls


def _loopback_host(host: str) -> bool:
    """An IP literal on this machine's loopback (a name is never: looking it up sends packets)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def off_machine_addresses(kind: str, input_: Mapping[str, Any]) -> list[str]:
    """The hosts of :func:`dial_targets` that are not provably this machine's loopback.

    ``{{base}}``, ``{{hostport}}`` and ``{{closed_hostport}}`` stand for 127.0.0.1. A URL
    that names no host, or does not parse, counts as off the machine too: an implementation
    may read it its own way (or fall back to NVIDIA's address).
    """
    found: list[str] = []
    for url in dial_targets(kind, input_):
        text = substitute(url, "http://127.0.0.1:1", "127.0.0.1:1")
        try:
            host = urlsplit(text).hostname
        except ValueError:
            host = None
        if host is None or not _loopback_host(unquote(host)):
            shown = host if host else f"{url!r} (no host)"
            if shown not in found:
                found.append(shown)
    return found


def find_suite(start: Path | None = None) -> Path:
    """The ``contracts/`` folder: ``start``, else the suite installed with this runner.

    A wheel carries the suite inside the package (``_suite/contracts``); a
    checkout has it beside the package, at the repository's top level.
    """
    if start is not None:
        if (start / "case.schema.json").is_file():
            return start
        raise SuiteError(f"{start} is not the contract suite (it holds no case.schema.json)")
    here = Path(__file__).resolve().parent
    for candidate in (here / "_suite" / "contracts", here.parent / "contracts"):
        if (candidate / "case.schema.json").is_file():
            return candidate
    raise SuiteError("cannot find the contract suite installed with this runner; pass --suite DIR")


def case_files(suite: Path) -> list[Path]:
    """Every case file, valid ones first, each group sorted by name."""
    return sorted((suite / "cases").glob("valid/*.json")) + sorted(
        (suite / "cases").glob("invalid/*.json")
    )


def read_file(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SuiteError(f"{path}: {err}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a case file must hold a JSON object")
    return data


def load_cases(suite: Path) -> list[Case]:
    cases: list[Case] = []
    for path in case_files(suite):
        for raw in read_file(path).get("cases", []):
            cases.append(Case.from_json(raw, path))
    return cases


def _matches(case: Case, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(case.id, pattern) for pattern in patterns)


def select(cases: Iterable[Case], include: Sequence[str], skip: Sequence[str]) -> list[Case]:
    """Cases whose id matches one ``include`` glob (all when none) and no ``skip`` glob."""
    return [
        case
        for case in cases
        if (not include or _matches(case, include)) and not _matches(case, skip)
    ]


def unmatched(cases: Sequence[Case], include: Sequence[str]) -> list[str]:
    """The ``include`` globs that match no case id (a typo, most likely)."""
    return [pattern for pattern in include if not _matches_any(cases, pattern)]


def _matches_any(cases: Sequence[Case], pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(case.id, pattern) for case in cases)


def allowed_tags(suite: Path) -> list[str]:
    """The tags a case may carry: the ``enum`` of ``tags`` in case.schema.json."""
    try:
        schema = json.loads((suite / "case.schema.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SuiteError(f"{suite / 'case.schema.json'}: {err}") from None
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            tags = node.get("tags")
            if isinstance(tags, dict):
                items = tags.get("items")
                if isinstance(items, dict) and isinstance(items.get("enum"), list):
                    found.extend(str(t) for t in items["enum"] if str(t) not in found)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    return found


def substitute(value: Any, base_url: str, closed_hostport: str | None = None) -> Any:
    """Replace ``{{base}}``, ``{{hostport}}``, ``{{closed_hostport}}`` and ``{{padding:N}}``."""
    if isinstance(value, str):
        hostport = base_url.split("://", 1)[-1]
        text = value.replace(PLACEHOLDER_BASE, base_url).replace(PLACEHOLDER_HOSTPORT, hostport)
        if closed_hostport is not None:
            text = text.replace(PLACEHOLDER_CLOSED_HOSTPORT, closed_hostport)
        if "{{padding:" in text:
            text = PLACEHOLDER_PADDING.sub(lambda found: "A" * int(found.group(1)), text)
        return text
    if isinstance(value, list):
        return [substitute(item, base_url, closed_hostport) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, base_url, closed_hostport) for key, item in value.items()}
    return value
