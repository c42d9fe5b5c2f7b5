"""A network with nothing but loopback in it, for the cases that name addresses off this machine.

Some cases give the implementation a base URL beyond this machine (a private,
special or public address, or a host name to look up): an implementation that
refuses it, as the case expects, sends nothing, but one that does not would
dial it. The runner runs those cases only where no packet can leave: on Linux
it moves one thread into a new network namespace (``unshare(CLONE_NEWNET)``),
whose only interface is its own loopback, brought up here. Sockets that
thread opens, the threads it starts and the processes it spawns (an adapter,
and the emulator's server thread) all live in that namespace, so 127.0.0.1
works inside it and every other address is unreachable: no route, no DNS
server, nothing on the wire. Where it cannot be made (not Linux, or no
privilege: it needs ``CAP_SYS_ADMIN``), :func:`unavailable` says why and the
runner leaves those cases out.

A namespace is per thread here, never per process: the runner's other
threads, and every case that names only loopback, keep the machine's network.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
import sys
import threading

__all__ = ["IsolationError", "enter_loopback_namespace", "network_of_this_thread", "unavailable"]

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq (40 bytes): the name, then the flags (a short) of its union


class IsolationError(Exception):
    """No loopback-only network namespace can be made in this thread (the reason, one line)."""


def network_of_this_thread() -> str:
    """The calling thread's network namespace (``net:[N]``), or ``""`` where Linux has none."""
    try:
        return os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    except OSError:
        return ""


def _unshare_network() -> None:
    if not sys.platform.startswith("linux"):
        raise IsolationError(f"network namespaces need Linux, not {sys.platform}")
    libc = ctypes.CDLL(None, use_errno=True)
    unshare = getattr(libc, "unshare", None)
    if unshare is None:
        raise IsolationError("the C library has no unshare()")
    if unshare(_CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        why = os.strerror(code)
        if code == errno.EPERM:
            why += " (a network namespace needs CAP_SYS_ADMIN: root, or a container allowed it)"
        raise IsolationError(f"unshare(CLONE_NEWNET) failed: {why}")


def _bring_loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def _only_loopback() -> None:
    """The namespace holds loopback alone, and 127.0.0.1 answers in it."""
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise IsolationError(f"the new network namespace has interfaces {names}, not only lo")
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.settimeout(2)
        client.connect(server.getsockname())


def enter_loopback_namespace() -> str:
    """Move the calling thread into a new network namespace with only loopback, up.

    Returns the namespace's name (``net:[N]``). Raises :class:`IsolationError`
    when it cannot; the thread may then be in a namespace without a working
    loopback, so a caller that gets the error ends the thread.
    """
    before = network_of_this_thread()
    _unshare_network()
    try:
        _bring_loopback_up()
        _only_loopback()
    except OSError as err:
        raise IsolationError(f"cannot bring up loopback in the new namespace: {err}") from None
    after = network_of_this_thread()
    if not after or after == before:
        raise IsolationError("the thread is still in the machine's network namespace")
    return after


_probe_lock = threading.Lock()
_probed: list[str | None] = []


def unavailable() -> str | None:
    """Why no loopback-only namespace can be made here; None when one can (probed once)."""
    with _probe_lock:
        if not _probed:
            outcome: list[str | None] = []

            def probe() -> None:
                try:
                    enter_loopback_namespace()
                except IsolationError as err:
                    outcome.append(str(err))
                except OSError as err:  # pragma: no cover - anything else the kernel says
                    outcome.append(f"cannot make a network namespace: {err}")
                else:
                    outcome.append(None)

            # A throwaway thread: the namespace it makes goes away with it.
            thread = threading.Thread(target=probe, name="reranker-contracts-netns-probe")
            thread.start()
            thread.join()
            _probed.append(outcome[0] if outcome else "the namespace probe ended unexpectedly")
        return _probed[0]


def forget_probe() -> None:
    """Probe again at the next :func:`unavailable` (for tests)."""
    with _probe_lock, contextlib.suppress(IndexError):
        _probed.pop()
