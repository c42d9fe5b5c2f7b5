"""The emulator's exceptions: bad configuration, bad fault specs, bad cassettes, and drops.

Not a port of a Go file: the Go module has no emulator. The tree::

    EmulatorError                   every error the emulator raises about its own input
    ├── EmulatorConfigError         an :class:`EmulatorConfig` value is unusable
    ├── FaultSpecError              a ``--fault`` spec or a fault JSON object is invalid
    ├── CassetteError               a replay cassette cannot be read or has the wrong shape
    └── EmulatorServerError         the server cannot listen, or stopped during start-up

    httpx.RemoteProtocolError
    └── EmulatedConnectionDrop      in-process only: the ``drop`` / ``drop-mid-body`` faults
    httpx.ReadError
    └── EmulatedConnectionReset     in-process only: the ``drop=reset`` fault

The two ``Emulated…`` classes are raised *by the app* when it runs in-process
under ``httpx.ASGITransport``; the transport hands them to the client, so the
client sees the same httpx exception types it would see over a real socket.
Over a real socket (``running_emulator``, ``serve``) they are never raised:
the server closes the TCP connection instead.
"""

from __future__ import annotations

import httpx

__all__ = [
    "CassetteError",
    "EmulatedConnectionDrop",
    "EmulatedConnectionReset",
    "EmulatorConfigError",
    "EmulatorError",
    "EmulatorServerError",
    "FaultSpecError",
]


class EmulatorError(Exception):
    """Base class of the errors the emulator raises about its own input."""


class EmulatorConfigError(EmulatorError, ValueError):
    """An :class:`EmulatorConfig` field is out of range (negative latency, bad model id, …)."""


class FaultSpecError(EmulatorError, ValueError):
    """A fault spec does not follow the grammar (see ``FAULT_GRAMMAR`` and docs/emulator.md)."""


class CassetteError(EmulatorError, ValueError):
    """A cassette file is missing, is not YAML, or is not in vcrpy's format."""


class EmulatorServerError(EmulatorError):
    """The server could not listen on its address, or stopped before it was ready."""


class EmulatedConnectionDrop(httpx.RemoteProtocolError):
    """In-process stand-in for a server that closed the connection (no or partial response)."""


class EmulatedConnectionReset(httpx.ReadError):
    """In-process stand-in for a server that reset the connection (TCP RST)."""
