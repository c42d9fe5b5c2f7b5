"""How a client pickles: by its settings, never by its pool (D-EXT-PICKLE). Python only.

``pickle.dumps(client)`` keeps what the client was built with and builds a new
client from it where it is unpickled; the new client's connection pool is empty
until its first request. The key's journey:

- a key read from ``NVIDIA_APIKEY`` does not travel: the receiving process reads
  ``NVIDIA_APIKEY`` itself when the client is rebuilt;
- a key given as ``api_key=`` travels masked (XOR with a random pad that travels
  beside it), so it is never in clear in the bytes, but it is not encrypted:
  whoever holds the bytes can recover it. Treat such a pickle as the key itself.

A client built with its own ``transport`` or ``resolver`` cannot be pickled: those
objects hold sockets, locks or callables of the sending process. A ``cache=``
spec travels as text (an ``sqlite:PATH`` names the same file where it is
unpickled, a ``memory`` cache starts empty); a store object given as ``cache=``
travels only if it pickles itself, else pickling the client is a ``TypeError``
that says so (D-EXT-CACHE).
"""

from __future__ import annotations

import pickle
import secrets
from typing import Any, Protocol

# What the constructors take, when the client does not say what it was given.
_NOT_PICKLED = ("transport", "resolver", "api_key")


class _Picklable(Protocol):
    api_key: Any
    _init_kwargs: dict[str, object]


class SealedKey:
    """An explicit key as it travels in a pickle: XOR-masked, with its pad. Not encryption."""

    __slots__ = ("masked", "pad")

    def __init__(self, key: str) -> None:
        raw = key.encode("utf-8")
        self.pad = secrets.token_bytes(len(raw))
        self.masked = bytes(a ^ b for a, b in zip(raw, self.pad, strict=True))

    def __repr__(self) -> str:
        return "SealedKey('***')"

    def __getstate__(self) -> tuple[bytes, bytes]:
        return self.masked, self.pad

    def __setstate__(self, state: tuple[bytes, bytes]) -> None:
        self.masked, self.pad = state

    def open(self) -> str:
        return bytes(a ^ b for a, b in zip(self.masked, self.pad, strict=True)).decode("utf-8")


def _custom_parts(client: object) -> list[str]:
    """The constructor objects this client was given that cannot cross a process boundary."""
    found = []
    if getattr(client, "resolver", None) is not None:
        found.append("resolver")
    if getattr(client, "transport", None) is not None:
        found.append("transport")
    return found


def client_settings(client: _Picklable) -> dict[str, object]:
    """The constructor arguments a pickle carries: what the client was built with.

    The key is left out here; :func:`reduce_client` adds it as it travels.
    """
    return {k: v for k, v in client._init_kwargs.items() if k not in _NOT_PICKLED}


def reduce_client(client: _Picklable) -> tuple[Any, tuple[object, ...]]:
    """``__reduce__`` of both clients: rebuild from the settings, the key as described above."""
    custom = _custom_parts(client)
    if custom:
        raise TypeError(
            f"cannot pickle {type(client).__name__}: it was built with a custom "
            f"{' and '.join(custom)}; build the client where it is used, "
            "or pickle a reranker_nvidia.bulk.ClientConfig"
        )
    _check_cache(client)
    key: SealedKey | None = None
    if not client.api_key.from_environment:
        key = SealedKey(client.api_key.value)
    return rebuild_client, (type(client), client_settings(client), key)


def _check_cache(client: _Picklable) -> None:
    """A store object given as ``cache=`` must pickle itself; a spec (text) always does."""
    store = client._init_kwargs.get("cache")
    if store is None or isinstance(store, str):
        return
    try:
        pickle.dumps(store)
    except Exception as err:  # noqa: BLE001 - whatever pickling the store raised, said in one line
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TypeError(
            f"cannot pickle {type(client).__name__}: its cache store {type(store).__name__} "
            f"does not pickle ({reason}); give cache= a spec such as 'sqlite:PATH', "
            "or build the client where it is used"
        ) from None


def rebuild_client(cls: type[Any], settings: dict[str, object], key: SealedKey | None) -> Any:
    """The unpickled client: built anew, its pool empty until its first request."""
    if key is None:
        return cls(**settings)  # api_key=None: NVIDIA_APIKEY is read here, in this process
    return cls(api_key=key.open(), **settings)
