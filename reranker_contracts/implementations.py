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
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import IO, Any, Protocol
from unittest import mock

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


class Subprocess:
    """Any implementation behind the adapter protocol: a command run once per case."""

    parallel = True

    def __init__(self, command: str, timeout: float) -> None:
        self.argv = _split(command)
        self.name = command
        self.timeout = timeout
        self._answered = False

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        payload = json.dumps({"kind": kind, "input": input_}).encode()
        try:
            done = subprocess.run(  # noqa: S603 - the user names the program to test
                self.argv,
                input=payload,
                capture_output=True,
                env=runner_environment(env),
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"_runner_problem": f"the implementation ran longer than {self.timeout:g} s"}
        except OSError as err:
            problem = f"cannot start {self.argv[0]}: {err.strerror or err}"
            if not self._answered:
                raise ImplementationStartError(problem) from None
            return {"_runner_problem": problem}
        stderr = done.stderr.decode("utf-8", "replace")
        if not done.stdout.strip() and done.returncode != 0 and not self._answered:
            raise ImplementationStartError(
                f"{self.name} exited with status {done.returncode} and wrote nothing on stdout "
                f"({_last_line(stderr)})"
            )
        try:
            outcome = json.loads(done.stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {
                "_runner_problem": f"exit {done.returncode}, stdout is not JSON: "
                f"{done.stdout[:200]!r}; stderr: {_tail(stderr)}"
            }
        self._answered = True
        checked = _check_outcome(outcome)
        if "_runner_problem" in checked:
            return checked
        if (done.returncode != 0) != ("error" in checked):
            return {
                "_runner_problem": f"exit {done.returncode} does not agree with the outcome "
                f"{json.dumps(checked)[:200]}"
            }
        return checked


class _AdapterProcess:
    """One long-lived adapter: a case per line on stdin, an outcome per line on stdout."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the user names the program to test
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=runner_environment(),
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=50)
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self.process.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self.process.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._stderr.append(line.decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def ask(self, payload: bytes, timeout: float) -> bytes | None:
        """The answer line; None when the process has exited; TimeoutError past ``timeout``."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(payload + b"\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it has exited: the reader thread says so
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def close(self) -> None:
        if self.process.stdin is not None:
            with suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class Persistent:
    """An adapter started once per job (``--persistent``), fed one JSON case per line.

    The line is ``{"kind": K, "input": {…}, "env": {NAME: VALUE}}``; the
    adapter runs the case with exactly those module variables set and answers
    one JSON object on one line. Each job takes an idle process (or starts
    one); a process that times out is killed, and one that dies is replaced
    on the next case. :meth:`close` ends them all.
    """

    parallel = True

    def __init__(self, command: str, timeout: float) -> None:
        self.argv = _split(command)
        self.name = command
        self.timeout = timeout
        self._idle: list[_AdapterProcess] = []
        self._every: list[_AdapterProcess] = []
        self._lock = threading.Lock()
        self._answered = False

    def _take(self) -> _AdapterProcess:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            started = _AdapterProcess(self.argv)
        except OSError as err:
            problem = f"cannot start {self.argv[0]}: {err.strerror or err}"
            if not self._answered:
                raise ImplementationStartError(problem) from None
            raise _CaseProblemError(problem) from None
        with self._lock:
            self._every.append(started)
        return started

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        payload = json.dumps({"kind": kind, "input": input_, "env": dict(env)}).encode()
        try:
            adapter = self._take()
        except _CaseProblemError as problem:
            return {"_runner_problem": str(problem)}
        try:
            line = adapter.ask(payload, self.timeout)
        except TimeoutError:
            adapter.kill()
            return {"_runner_problem": f"the implementation ran longer than {self.timeout:g} s"}
        if line is None:
            status = adapter.process.wait()
            if not self._answered:
                raise ImplementationStartError(
                    f"{self.name} exited with status {status} before answering the first case "
                    f"({_last_line(adapter.stderr)})"
                )
            return {
                "_runner_problem": f"the adapter exited with status {status} without answering; "
                f"stderr: {_tail(adapter.stderr)}"
            }
        with self._lock:
            self._idle.append(adapter)
        try:
            outcome = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {"_runner_problem": f"the answer line is not JSON: {line[:200]!r}"}
        self._answered = True
        return _check_outcome(outcome)

    def close(self) -> None:
        """End every adapter process: stdin closed, then killed if it lingers."""
        with self._lock:
            every, self._every, self._idle = self._every, [], []
        for adapter in every:
            adapter.close()

    def __enter__(self) -> Persistent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _CaseProblemError(Exception):
    """A problem that fails one case (the adapter could not be restarted for it)."""
