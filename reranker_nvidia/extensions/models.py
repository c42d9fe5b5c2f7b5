"""Listing the models a NIM serves: ``GET {base URL}/v1/models``.

Python only, for the ``models`` command. A self-hosted NIM answers
``{"object": "list", "data": [{"id": …, "root": …, …}]}``; NIM 2.x may give
its mount path as ``id`` and the model's name only in ``root``, so both are
kept. No key is sent unless one is given (a stock NIM needs none, and a key
for NVIDIA's service should not go to any other host by default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from .._gostd import url as gourl
from ..clients._secrets import check_api_key, scrubbed
from ..errors import (
    RerankerError,
    ResponseParseError,
    TransportError,
    UpstreamError,
)
from ..modulecomponents import _http_errors as gonet
from ..modulecomponents._deadline import DEFAULT_MAX_RESPONSE_BYTES, read_capped
from ..modulecomponents.base_client import new_base_http_client
from ..usecases.config.environment import (
    module_http_client_timeout_from_environment,
)

__all__ = ["MODELS_PATH", "NimModel", "list_models", "models_url", "parse_models"]

MODELS_PATH = "/v1/models"
_SHOWN_BODY = 200


@dataclass(frozen=True, slots=True)
class NimModel:
    """One entry of ``/v1/models``: its ``id`` and, when given, its ``root``."""

    id: str
    root: str | None = None
    owned_by: str | None = None


def models_url(base_url: str) -> str:
    """``{base URL}/v1/models``, without a doubled slash."""
    authority = base_url.find("://")
    keep = authority + 3 if authority != -1 else 0
    return base_url[:keep] + base_url[keep:].rstrip("/") + MODELS_PATH


def list_models(
    base_url: str,
    *,
    api_key: str | None = None,
    timeout: float | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[NimModel]:
    """The models served at ``base_url``, in the order the NIM lists them.

    Raises :class:`TransportError` (no connection), :class:`UpstreamError`
    (a status other than 200) or :class:`ResponseParseError` (a body that is
    not a model list). ``timeout`` defaults as the client's does
    (``MODULES_CLIENT_TIMEOUT``, else 50 s).
    """
    url = models_url(base_url)
    if timeout is None:
        timeout = module_http_client_timeout_from_environment()
    headers = {"Accept": "application/json"}
    secrets: tuple[str, ...] = ()
    if api_key:
        check_api_key(api_key, "the api_key argument")
        headers["Authorization"] = f"Bearer {api_key}"
        secrets = (api_key,)
    try:
        with new_base_http_client(
            timeout, transport=transport, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES
        ) as http:
            status, response_headers, body = _get(http, url, headers)
        if status != 200:
            raise _status_error(url, status, response_headers, body)
        return parse_models(body, status=status)
    except RerankerError as err:
        scrubbed(err, secrets)
        raise


def _get(http: httpx.Client, url: str, headers: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
    where = f"Get {gourl.go_quote(gourl.strip_password(url))}"
    try:
        request = http.build_request("GET", url, headers=headers)
    except (httpx.InvalidURL, ValueError) as err:
        raise TransportError(f"send GET request: {where}: {err}") from None
    try:
        response = http.send(request, stream=True)
    except httpx.HTTPError as err:
        raise TransportError(f"send GET request: {where}: {gonet.describe(err, url)}") from err
    try:
        body = read_capped(response, DEFAULT_MAX_RESPONSE_BYTES)
    except httpx.HTTPError as err:
        raise TransportError(f"read response body: {gonet.describe(err, url)}") from err
    finally:
        response.close()
    return response.status_code, response.headers, body


def _status_error(url: str, status: int, headers: httpx.Headers, body: bytes) -> UpstreamError:
    text = body.decode("utf-8", "replace").strip()
    detail = _detail(text)
    message = f"list models: {gourl.strip_password(url)} answered status {status}"
    if detail:
        shown = detail if len(detail) <= _SHOWN_BODY else detail[: _SHOWN_BODY - 1] + "…"
        message += f": {' '.join(shown.split())}"
    return UpstreamError(
        message,
        status=status,
        detail=detail or None,
        body=body,
        content_type=headers.get("content-type", ""),
        headers=dict(headers.items()),
    )


def _detail(text: str) -> str:
    """The ``detail`` or ``message`` of a JSON error body, else the body's text."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        for key in ("detail", "message", "error"):
            value = data.get(key)
            if isinstance(value, str):
                return value
    return text


def parse_models(body: bytes, *, status: int = 200) -> list[NimModel]:
    """The models of a ``/v1/models`` body; :class:`ResponseParseError` if it is not one."""
    prefix = f"failed to parse models response (status {status}): "
    try:
        data: Any = json.loads(body)
    except ValueError as err:
        raise ResponseParseError(f"{prefix}not JSON: {err}", status=status) from None
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ResponseParseError(f'{prefix}no "data" list of models', status=status)
    models: list[NimModel] = []
    for i, entry in enumerate(entries):
        model_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(model_id, str):
            raise ResponseParseError(f'{prefix}model {i} has no string "id"', status=status)
        root, owner = entry.get("root"), entry.get("owned_by")
        models.append(
            NimModel(
                id=model_id,
                root=root if isinstance(root, str) else None,
                owned_by=owner if isinstance(owner, str) else None,
            )
        )
    return models
