"""A local, NIM-compatible emulator of NVIDIA's reranking service, for offline tests.

Not a port of a Go file: Weaviate's Go module has no emulator. It is laid
out like a moto service:

* ``urls.py`` — every route, NVIDIA's and the ``/_emulator/`` control routes, in one table;
* ``responses.py`` — thin handlers: parse the request, call the model layer, render;
* ``models.py`` — the state (request log, armed faults, pending results,
  replay cursor) and the NIM's rules (keys, validation, limits, scoring);
* ``exceptions.py`` — NVIDIA's errors as exceptions the response layer
  renders, and the emulator's own errors;
* ``faults.py`` — the fault grammar and every place a fault takes effect;

with ``_app.py`` (the ASGI layer), ``_server.py`` (the real socket),
``_wire.py`` (replies and ASGI calls) and the data helpers ``_config``,
``_catalogue``, ``_captures``, ``_tokens``, ``_scoring``, ``_cassette``,
``_json`` (the bounded JSON reader).

Like moto, one backend has two front ends — the Starlette app from
:func:`create_app`, used in-process through ``httpx.ASGITransport``, and the
same app on a real loopback socket (:func:`running_emulator`, :func:`serve`,
the ``emulator`` command)::

    from nim_emulator import EmulatorConfig, FaultSpec, running_emulator

    config = EmulatorConfig(api_key="k", faults=[FaultSpec.parse("status=429,count=1")])
    with running_emulator(config) as base_url:
        ...  # POST {base_url}/v1/retrieval/nvidia/reranking

Error bodies are NVIDIA's own where a capture exists; the scores are a
deterministic BM25-style stand-in (or, with ``scoring="hash"``, a cheap hash
for benchmarks), NOT NVIDIA's model. docs/emulator.md lists the routes (the
hosted ones, ``/v1/ranking`` and the gateway's ``/v1/rerank``), the rules
(image passages included), the fault grammar and what is not reproduced.
"""

import importlib
from typing import TYPE_CHECKING

# The names below load on first use (PEP 562), so that importing the package, as every pytest
# run does for the plugin (nim_emulator.pytest_plugin, an entry point), costs nothing and needs
# no extra; without the `emulator` extra, using a name says what to install.
if TYPE_CHECKING:
    from nim_emulator._app import create_app
    from nim_emulator._cassette import Cassette, Interaction, load_cassette, parse_cassette
    from nim_emulator._catalogue import DEFAULT_SELF_HOSTED_MODEL, MODELS, ModelInfo
    from nim_emulator._config import EmulatorConfig
    from nim_emulator._scoring import pair_logit, rank_passages
    from nim_emulator._server import running_emulator, serve
    from nim_emulator._tokens import count_tokens
    from nim_emulator._wire import CONNECTION_EXTENSION
    from nim_emulator.exceptions import (
        CassetteError,
        EmulatedConnectionDrop,
        EmulatedConnectionReset,
        EmulatorConfigError,
        EmulatorError,
        EmulatorServerError,
        FaultSpecError,
    )
    from nim_emulator.faults import FAULT_GRAMMAR, FaultSpec
    from nim_emulator.models import ArmedFault, EmulatorState, RequestRecord

__all__ = [
    "CONNECTION_EXTENSION",
    "DEFAULT_SELF_HOSTED_MODEL",
    "FAULT_GRAMMAR",
    "MODELS",
    "ArmedFault",
    "Cassette",
    "CassetteError",
    "EmulatedConnectionDrop",
    "EmulatedConnectionReset",
    "EmulatorConfig",
    "EmulatorConfigError",
    "EmulatorError",
    "EmulatorServerError",
    "EmulatorState",
    "FaultSpec",
    "FaultSpecError",
    "Interaction",
    "ModelInfo",
    "RequestRecord",
    "count_tokens",
    "create_app",
    "load_cassette",
    "pair_logit",
    "parse_cassette",
    "rank_passages",
    "running_emulator",
    "serve",
]

# Every module the names above come from, imported together at the first use of one of them.
_PARTS = (
    "_app",
    "_cassette",
    "_catalogue",
    "_config",
    "_scoring",
    "_server",
    "_tokens",
    "_wire",
    "exceptions",
    "faults",
    "models",
)

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            parts = [importlib.import_module(f"{__name__}.{part}") for part in _PARTS]
        except ModuleNotFoundError as missing:
            if missing.name not in {"starlette", "uvicorn", "yaml"}:
                raise
            raise ModuleNotFoundError(
                f"{__name__}.{name} needs the 'emulator' extra: "
                f"pip install 'reranker-nvidia[emulator]' ({missing})",
                name=missing.name,
            ) from None
        for public in __all__:
            owner = next((m for m in parts if hasattr(m, public)), None)
            if owner is None:
                raise AttributeError(f"{__name__}.{public}: its module is missing from _PARTS")
            globals()[public] = getattr(owner, public)
        return globals()[name]
