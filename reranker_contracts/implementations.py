"""The implementations the runner can test, behind the adapter protocol (contracts/README.md).

``InProcess`` calls a function of this process (``reranker-nvidia contracts
run`` hands in the port's adapter); ``Subprocess`` starts the adapter command
once per case; ``Persistent`` keeps one adapter process per job and sends it
one case per line. Every one turns a case's input into an outcome,
``{"scores"|"results"|"settings"|"params": …}`` or ``{"error": message}``; a
protocol violation is reported as ``{"_runner_problem": why}``, and an adapter
that cannot even start raises :class:`ImplementationStartError` (once, on the
first case, so the run stops with one line instead of one failure per case).
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import IO, Any, Protocol
from unittest import mock

from reranker_contracts.isolation import network_of_this_thread

# Environment variables the module reads; a case's ``env`` is all of them it sees.
MODULE_ENVIRONMENT = ("NVIDIA_APIKEY", "MODULES_CLIENT_TIMEOUT", "MODULES_VALIDATE_BASE_URL")
_STDERR_TAIL = 500


class ImplementationStartError(Exception):
    """The implementation cannot start (no such command, or it dies before answering at all)."""


class Implementation(Protocol):
    """Something that turns a case's input into an outcome (the adapter protocol)."""

    name: str

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        """``{"scores"|"results"|"settings"|"params": …}`` or ``{"error": message}``."""
        ...


@contextmanager
def module_environment(env: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """The process environment with exactly the case's module variables set."""
    changes: dict[str, str] = {name: "" for name in MODULE_ENVIRONMENT}
    changes.update(env)
    with mock.patch.dict(os.environ, changes):
        for name in MODULE_ENVIRONMENT:
            if name not in env:
                del os.environ[name]
        yield dict(os.environ)


def runner_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The runner's environment without the module's variables, plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if k not in MODULE_ENVIRONMENT}
    environ.update(env or {})
    return environ


# An implementation called in this process: (kind, input, environment) -> outcome.
Execute = Callable[[str, Mapping[str, Any], Mapping[str, str]], dict[str, Any]]


class InProcess:
    """An implementation called directly in this process, with the case's environment set.

    The runner never imports an implementation: whoever runs the suite hands
    one in (``reranker-nvidia contracts run`` hands in this port's adapter).
    The module environment is the process's own, so cases run one at a time
    (``parallel`` is False: the runner uses one job).
    """

    parallel = False

    def __init__(self, execute: Execute, name: str = "in-process") -> None:
        self._execute = execute
        self.name = name

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        with module_environment(env) as environ:
            return self._execute(kind, input_, environ)


def _split(command: str) -> list[str]:
    argv = shlex.split(command)
    if not argv:
        raise ValueError("--impl needs a command")
    return argv


def _tail(stderr: str) -> str:
    text = stderr.strip()
    return text[-_STDERR_TAIL:] if text else "(empty)"


def _last_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    return lines[-1][-_STDERR_TAIL:] if lines else "nothing on stderr"


def _check_outcome(outcome: Any) -> dict[str, Any]:
    if not isinstance(outcome, dict):
        return {"_runner_problem": f"stdout is not a JSON object: {outcome!r}"}
    return outcome


# What the runner keeps of an adapter's output: the answer up to OUTPUT_LIMIT bytes (a case
# whose answer is longer fails), and the last STDERR_KEPT bytes of stderr.
OUTPUT_LIMIT = 32 * 1024 * 1024
STDERR_KEPT = 16 * 1024
# How long the runner waits for an adapter's last output once its process has exited or been
# killed (a child it left behind may hold the pipes): then the pipes are abandoned.
DRAIN_SECONDS = 0.5
_READ_SIZE = 65536


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the adapter's whole process group (it leads one: ``start_new_session``).

    Called while the adapter is not yet reaped, so its process group id cannot have been
    given to anyone else.
    """
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the adapter has exited, without reaping it (its group id stays reserved)."""
    if process.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _finish(process: subprocess.Popen[bytes]) -> int:
    """Kill what is left of the adapter's process group, then reap the adapter: its status."""
    _kill_group(process)
    return process.wait()


class _Exchange:
    """One case through a one-shot adapter: the case in, the outcome out, bounded in time and size.

    The reads never hold more than OUTPUT_LIMIT bytes of stdout and STDERR_KEPT of stderr,
    and the exchange ends at ``timeout`` whatever the adapter (or a child holding its pipes)
    does; nothing it started is left running afterwards.
    """

    def __init__(self, process: subprocess.Popen[bytes], payload: bytes, timeout: float) -> None:
        self.process = process
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.timed_out = False
        self.too_long = False
        self.status = self._run(payload, time.monotonic() + timeout)

    def _run(self, payload: bytes, deadline: float) -> int:
        process = self.process
        assert process.stdin and process.stdout and process.stderr
        streams = {process.stdout.fileno(): self.stdout, process.stderr.fileno(): self.stderr}
        to_send = memoryview(payload)
        stdin = process.stdin.fileno()
        with selectors.DefaultSelector() as selector:
            os.set_blocking(stdin, False)
            selector.register(stdin, selectors.EVENT_WRITE)
            for fd in streams:
                selector.register(fd, selectors.EVENT_READ)
            exited_at: float | None = None
            while selector.get_map():
                now = time.monotonic()
                if exited_at is None and _exited(process):
                    exited_at = now
                if now >= deadline and exited_at is None:
                    self.timed_out = True
                    _kill_group(process)
                    exited_at = now  # drain what is left for a moment, then give up
                if exited_at is not None and now >= exited_at + DRAIN_SECONDS:
                    break
                for key, _ in selector.select(0.05):
                    fd = int(key.fd)
                    if fd == stdin:
                        try:
                            written = os.write(fd, to_send[:_READ_SIZE])
                        except BlockingIOError:
                            continue
                        except OSError:  # the adapter closed its stdin: it read what it wanted
                            written = len(to_send)
                        to_send = to_send[written:]
                        if not to_send:
                            selector.unregister(fd)
                            process.stdin.close()
                        continue
                    chunk = os.read(fd, _READ_SIZE)
                    if not chunk:
                        selector.unregister(fd)
                        continue
                    kept = streams[fd]
                    kept += chunk
                    if kept is self.stderr and len(kept) > STDERR_KEPT:
                        del kept[: len(kept) - STDERR_KEPT]
                    if kept is self.stdout and len(kept) > OUTPUT_LIMIT:
                        self.too_long = True
                        _kill_group(process)
                        del kept[OUTPUT_LIMIT:]
                        selector.unregister(fd)
                        exited_at = exited_at or time.monotonic()
        for stream in (process.stdin, process.stdout, process.stderr):
            with suppress(OSError):
                stream.close()
        return _finish(process)


class Subprocess:
    """Any implementation behind the adapter protocol: a command run once per case.

    Each run leads a process group of its own; at the timeout, or once the adapter has
    exited, the whole group is killed, so a child it left behind (holding the pipes, or
    just running) never outlives the case.
    """

    parallel = True

    def __init__(self, command: str, timeout: float, *, output_limit: int = OUTPUT_LIMIT) -> None:
        self.argv = _split(command)
        self.name = command
        self.timeout = timeout
        self.output_limit = output_limit
        self._answered = False

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        payload = json.dumps({"kind": kind, "input": input_}).encode()
        try:
            process = subprocess.Popen(  # noqa: S603 - the user names the program to test
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=runner_environment(env),
                start_new_session=True,
            )
        except OSError as err:
            problem = f"cannot start {self.argv[0]}: {err.strerror or err}"
            if not self._answered:
                raise ImplementationStartError(problem) from None
            return {"_runner_problem": problem}
        done = _Exchange(process, payload, self.timeout)
        stderr = bytes(done.stderr).decode("utf-8", "replace")
        if done.timed_out:
            return {"_runner_problem": f"the implementation ran longer than {self.timeout:g} s"}
        if done.too_long or len(done.stdout) > self.output_limit:
            return {
                "_runner_problem": f"the implementation wrote more than {_size(self.output_limit)} "
                "on stdout; the runner reads no more than that"
            }
        stdout = bytes(done.stdout)
        if not stdout.strip() and done.status != 0 and not self._answered:
            raise ImplementationStartError(
                f"{self.name} exited with status {done.status} and wrote nothing on stdout "
                f"({_last_line(stderr)})"
            )
        try:
            outcome = json.loads(stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {
                "_runner_problem": f"exit {done.status}, stdout is not JSON: "
                f"{stdout[:200]!r}; stderr: {_tail(stderr)}"
            }
        self._answered = True
        checked = _check_outcome(outcome)
        if "_runner_problem" in checked:
            return checked
        if (done.status != 0) != ("error" in checked):
            return {
                "_runner_problem": f"exit {done.status} does not agree with the outcome "
                f"{json.dumps(checked)[:200]}"
            }
        return checked


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count >= 1024 * 1024 else f"{count} bytes"


# What a persistent adapter's stdout reader hands over: a line, the end of the stream, or
# word that the adapter wrote too much (a line past the limit, or lines nobody asked for).
_END = None
_TOO_MUCH = b""
# Lines a persistent adapter may have written ahead of the runner's reading them.
_QUEUED_LINES = 16


class _AdapterProcess:
    """One long-lived adapter: a case per line on stdin, an outcome per line on stdout.

    It leads a process group of its own, which :meth:`kill` ends whole. The readers keep
    at most one line of ``limit`` bytes, _QUEUED_LINES lines in waiting, and the last
    STDERR_KEPT bytes of stderr.
    """

    def __init__(self, argv: list[str], limit: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the user names the program to test
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=runner_environment(),
            start_new_session=True,
        )
        self.network = network_of_this_thread()
        self._limit = limit
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._stderr = bytearray()
        self._stderr_lock = threading.Lock()
        self.status: int | None = None
        self._writer: threading.Thread | None = None
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self.process.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self.process.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        pending = bytearray()
        try:
            while True:
                chunk = os.read(stream.fileno(), _READ_SIZE)
                if not chunk:
                    break
                pending += chunk
                while (end := pending.find(b"\n")) >= 0:
                    self._lines.put(bytes(pending[: end + 1]))
                    del pending[: end + 1]
                if len(pending) > self._limit or self._lines.qsize() > _QUEUED_LINES:
                    self._lines.put(_TOO_MUCH)
                    return  # the runner kills the adapter when it reads this
            if pending:
                self._lines.put(bytes(pending))
        except OSError:
            pass
        finally:
            with suppress(OSError):
                stream.close()
            self._lines.put(_END)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        try:
            while chunk := os.read(stream.fileno(), _READ_SIZE):
                with self._stderr_lock:
                    self._stderr += chunk
                    if len(self._stderr) > STDERR_KEPT:
                        del self._stderr[: len(self._stderr) - STDERR_KEPT]
        except OSError:
            pass
        finally:
            with suppress(OSError):
                stream.close()

    @property
    def stderr(self) -> str:
        with self._stderr_lock:
            return bytes(self._stderr).decode("utf-8", "replace")

    def ask(self, payload: bytes, timeout: float) -> bytes | None:
        """The answer line (``_TOO_MUCH`` when it was too long); None when the process exited.

        Raises TimeoutError past ``timeout``.
        """
        stdin = self.process.stdin
        assert stdin is not None

        def send() -> None:
            # On a thread of its own: an adapter that reads nothing fills the pipe, and the
            # write then waits until the adapter is killed at the timeout.
            try:
                stdin.write(payload + b"\n")
                stdin.flush()
            except (OSError, ValueError):
                pass  # it has exited, or was killed: the reader thread says so

        self._writer = threading.Thread(target=send, name="reranker-contracts-send", daemon=True)
        self._writer.start()
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def wait_exit(self) -> int:
        """After the stream ended: the adapter's exit status (its group killed, it reaped)."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while not _exited(self.process) and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.kill()

    def kill(self) -> int:
        """End the adapter and everything in its process group now; its exit status."""
        if self.status is None:
            # Killed first: a write still blocked on its stdin then fails, and lets go of it.
            self.status = _finish(self.process)
            if self._writer is not None:
                self._writer.join(timeout=DRAIN_SECONDS)
            if self.process.stdin is not None:
                with suppress(OSError, ValueError):
                    self.process.stdin.close()
            for reader in self._readers:  # the pipes close with the group: they end at once
                reader.join(timeout=DRAIN_SECONDS)
        return self.status

    def end_input(self) -> None:
        """Close its stdin: a well-behaved adapter then exits on its own."""
        if self.process.stdin is not None:
            with suppress(OSError):
                self.process.stdin.close()


class Persistent:
    """An adapter started once per job (``--persistent``), fed one JSON case per line.

    The line is ``{"id": ID, "kind": K, "input": {…}, "env": {NAME: VALUE}}``; the
    adapter runs the case with exactly those module variables set and answers one
    JSON object on one line that carries the same ``id``. An answer is accepted only
    for the case whose id it carries: any other line (no id, another case's, not JSON,
    a line too long) fails the case, and the adapter, out of step, is killed and
    replaced for the next case, so no case is ever judged on another's answer.

    Each job takes an idle process started in its own network namespace (or starts
    one: see :mod:`reranker_contracts.isolation`); a process that times out is killed
    with its whole process group, and one that dies is replaced on the next case.
    :meth:`close` ends them all.
    """

    parallel = True

    def __init__(self, command: str, timeout: float, *, output_limit: int = OUTPUT_LIMIT) -> None:
        self.argv = _split(command)
        self.name = command
        self.timeout = timeout
        self.output_limit = output_limit
        self._idle: list[_AdapterProcess] = []
        self._every: list[_AdapterProcess] = []
        self._lock = threading.Lock()
        self._answered = False
        self._serial = 0

    def _take(self) -> _AdapterProcess:
        network = network_of_this_thread()
        with self._lock:
            for index, idle in enumerate(self._idle):
                if idle.network == network:
                    return self._idle.pop(index)
        try:
            started = _AdapterProcess(self.argv, self.output_limit)
        except OSError as err:
            problem = f"cannot start {self.argv[0]}: {err.strerror or err}"
            if not self._answered:
                raise ImplementationStartError(problem) from None
            raise _CaseProblemError(problem) from None
        with self._lock:
            self._every.append(started)
        return started

    def _discard(self, adapter: _AdapterProcess) -> int:
        status = adapter.kill()
        with self._lock:
            if adapter in self._every:
                self._every.remove(adapter)
        return status

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            self._serial += 1
            ident = f"case-{self._serial}"
        payload = json.dumps({"id": ident, "kind": kind, "input": input_, "env": dict(env)})
        try:
            adapter = self._take()
        except _CaseProblemError as problem:
            return {"_runner_problem": str(problem)}
        try:
            line = adapter.ask(payload.encode(), self.timeout)
        except TimeoutError:
            self._discard(adapter)
            return {"_runner_problem": f"the implementation ran longer than {self.timeout:g} s"}
        if line is _END:
            status = adapter.wait_exit()
            self._discard(adapter)
            if not self._answered:
                raise ImplementationStartError(
                    f"{self.name} exited with status {status} before answering the first case "
                    f"({_last_line(adapter.stderr)})"
                )
            return {
                "_runner_problem": f"the adapter exited with status {status} without answering; "
                f"stderr: {_tail(adapter.stderr)}"
            }
        if line == _TOO_MUCH:
            self._discard(adapter)
            return {
                "_runner_problem": "the adapter wrote a line longer than "
                f"{_size(self.output_limit)}, or lines no case asked for; it was stopped"
            }
        answer = self._answer(line, ident)
        if "_runner_problem" in answer:
            self._discard(adapter)  # out of step: its next line may answer this case
        else:
            with self._lock:
                self._idle.append(adapter)
        return answer

    def _answer(self, line: bytes, ident: str) -> dict[str, Any]:
        """The outcome in ``line`` if it answers the case ``ident``; else a runner problem."""
        try:
            outcome = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {"_runner_problem": f"the answer line is not JSON: {line[:200]!r}"}
        if not isinstance(outcome, dict):
            return _check_outcome(outcome)
        self._answered = True
        got = outcome.pop("id", None)
        if got != ident:
            said = "carries no id" if got is None else f"carries the id {json.dumps(got)[:80]}"
            return {
                "_runner_problem": f"the answer line {said}, not this case's {ident!r}: a "
                "persistent adapter echoes the id of the line it answers (contracts/README.md); "
                f"the adapter was stopped. The line: {line[:200]!r}"
            }
        return outcome

    def close(self) -> None:
        """End every adapter process: stdin closed, a moment to exit, then its group killed."""
        with self._lock:
            every, self._every, self._idle = self._every, [], []
        for adapter in every:
            adapter.end_input()
        deadline = time.monotonic() + 2.0
        for adapter in every:
            while not _exited(adapter.process) and time.monotonic() < deadline:
                time.sleep(0.01)
            adapter.kill()

    def __enter__(self) -> Persistent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _CaseProblemError(Exception):
    """A problem that fails one case (the adapter could not be restarted for it)."""
