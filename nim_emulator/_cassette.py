"""Cassettes for replay mode: vcrpy's YAML format, read into typed, immutable data.

The format is vcrpy's version 1::

    version: 1
    interactions:
    - request:  {method: POST, uri: "https://…/v1/ranking", body: "…", headers: {…}}
      response: {status: {code: 200, message: OK}, headers: {Name: [value]},
                 body: {string: "…"}}

Bodies may be strings, ``!!binary`` bytes or null. Top-level keys other than
``version`` and ``interactions`` (provenance notes, for instance) are kept in
:attr:`Cassette.metadata` and otherwise ignored. Request headers are read but
never matched. Matching compares the method, the URI's path (scheme, host,
port and query string are ignored) and the body: as JSON values when both
bodies parse as JSON (so key order and spacing do not matter, but ``true``
never equals ``1``), else as bytes (a missing body equals an empty one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from nim_emulator._json import loads
from nim_emulator.exceptions import CassetteError

__all__ = ["Cassette", "Interaction", "bodies_match", "load_cassette", "parse_cassette"]


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its response; ``index`` is its place in the cassette."""

    index: int
    method: str
    uri: str
    path: str
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    response_body: bytes
    request_headers: tuple[tuple[str, str], ...] = ()

    def matches(self, method: str, path: str, body: bytes) -> bool:
        """Whether a request with this method, path and body is this interaction's request."""
        return self.method == method.upper() and self.path == path and bodies_match(self.body, body)

    def summary(self) -> dict[str, Any]:
        """What the request was, as JSON-ready data (for 599 answers and the unused report)."""
        return {
            "index": self.index,
            "method": self.method,
            "uri": self.uri,
            "path": self.path,
            "body": self.body.decode("utf-8", errors="replace"),
        }


@dataclass(frozen=True)
class Cassette:
    """A loaded cassette: its interactions in order, and its other top-level keys."""

    interactions: tuple[Interaction, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"


def load_cassette(path: str | Path) -> Cassette:
    """Read a vcrpy cassette file. Raises :class:`CassetteError` with the reason."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cannot read cassette {source}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CassetteError(f"cassette {source} is not valid YAML: {exc}") from None
    except RecursionError:
        raise CassetteError(
            f"cassette {source} is not a usable cassette: its YAML is nested too deeply"
        ) from None
    return parse_cassette(data, source=source)


def parse_cassette(data: object, *, source: str = "<memory>") -> Cassette:
    """Check and convert an already-parsed cassette (a dict from YAML or JSON)."""
    if not isinstance(data, dict):
        raise CassetteError(f"cassette {source}: the top level must be a mapping")
    if data.get("version") != 1:
        raise CassetteError(
            f"cassette {source}: version must be 1 (vcrpy's format), not {data.get('version')!r}"
        )
    raw = data.get("interactions")
    if not isinstance(raw, list):
        raise CassetteError(f"cassette {source}: 'interactions' must be a list")
    interactions = tuple(_interaction(i, item, source) for i, item in enumerate(raw))
    metadata = {k: v for k, v in data.items() if k not in ("version", "interactions")}
    return Cassette(interactions, metadata, source)


def bodies_match(expected: bytes, received: bytes) -> bool:
    """Equal as JSON when both parse as JSON, else equal as bytes (module docstring).

    A body nested deeper than ``_json.MAX_DEPTH`` does not parse here, so it
    is compared as bytes: such a recorded body never fails a request.
    """
    try:
        left = loads(expected)
        right = loads(received)
    except ValueError:
        return expected == received
    return _json_equal(left, right)


def _json_equal(left: object, right: object) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return type(left) is type(right) and left == right


def _interaction(index: int, item: object, source: str) -> Interaction:
    where = f"cassette {source}, interaction {index}"
    if not isinstance(item, dict):
        raise CassetteError(f"{where}: must be a mapping with 'request' and 'response'")
    request = item.get("request")
    response = item.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise CassetteError(f"{where}: needs a 'request' mapping and a 'response' mapping")
    method = request.get("method")
    uri = request.get("uri")
    if not isinstance(method, str) or not method:
        raise CassetteError(f"{where}: request.method must be a string")
    if not isinstance(uri, str) or not uri:
        raise CassetteError(f"{where}: request.uri must be a string")
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        raise CassetteError(f"{where}: response.status.code must be an HTTP status code")
    raw_body = response.get("body")
    response_body = raw_body.get("string") if isinstance(raw_body, dict) else raw_body
    return Interaction(
        index=index,
        method=method.upper(),
        uri=uri,
        path=unquote(urlsplit(uri).path) or "/",
        body=_bytes(request.get("body"), f"{where}: request.body"),
        status=code,
        headers=_headers(response.get("headers"), f"{where}: response.headers"),
        response_body=_bytes(response_body, f"{where}: response.body.string"),
        request_headers=_headers(request.get("headers"), f"{where}: request.headers"),
    )


def _bytes(value: object, where: str) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise CassetteError(f"{where} must be a string, bytes or null, not {type(value).__name__}")


def _headers(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise CassetteError(f"{where} must be a mapping of names to lists of values")
    pairs: list[tuple[str, str]] = []
    for name, values in value.items():
        for item in values if isinstance(values, list) else [values]:
            if not isinstance(name, str) or not isinstance(item, str | int | float):
                raise CassetteError(f"{where}: header {name!r} has a non-text value")
            pairs.append((name, str(item)))
    return tuple(pairs)
