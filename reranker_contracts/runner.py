"""Running contract cases against an implementation, and judging the outcome.

The runner algorithm is written out in contracts/README.md ("The runner,
step by step"); this module follows it. One NIM emulator serves the whole
run on loopback; before each case it is reset and loaded with the case's
upstream answers (a cassette, or the case's inline replies) to replay, and
after the case its request log is compared with the requests the case
expects.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from unittest import mock

import httpx

from reranker_contracts.cassettes import load_interactions
from reranker_contracts.suite import Case, substitute

# Environment variables the module reads; a case's ``env`` is all of them it sees.
MODULE_ENVIRONMENT = ("NVIDIA_APIKEY", "MODULES_CLIENT_TIMEOUT", "MODULES_VALIDATE_BASE_URL")
NEEDS_UPSTREAM = ("rank", "rerank")
LIVE_BASE_URL = "https://ai.api.nvidia.com"


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


# An implementation called in this process: (kind, input, environment) -> outcome.
Execute = Callable[[str, Mapping[str, Any], Mapping[str, str]], dict[str, Any]]


class InProcess:
    """An implementation called directly in this process, with the case's environment set.

    The runner never imports an implementation: whoever runs the suite hands
    one in (``reranker-nvidia contracts run`` hands in this port's adapter).
    """

    def __init__(self, execute: Execute, name: str = "in-process") -> None:
        self._execute = execute
        self.name = name

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        with module_environment(env) as environ:
            return self._execute(kind, input_, environ)


class Subprocess:
    """Any implementation behind the adapter protocol: a command run once per case."""

    def __init__(self, command: str, timeout: float) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("--impl needs a command")
        self.name = command
        self.timeout = timeout

    def run(self, kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        environ = {k: v for k, v in os.environ.items() if k not in MODULE_ENVIRONMENT}
        environ.update(env)
        payload = json.dumps({"kind": kind, "input": input_}).encode()
        try:
            done = subprocess.run(  # noqa: S603 - the user names the program to test
                self.argv,
                input=payload,
                capture_output=True,
                env=environ,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"_runner_problem": f"the implementation ran longer than {self.timeout:g} s"}
        except OSError as err:
            return {"_runner_problem": f"cannot start {self.argv[0]}: {err.strerror or err}"}
        try:
            outcome = json.loads(done.stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            stderr = done.stderr.decode("utf-8", "replace").strip()[-500:]
            return {
                "_runner_problem": f"exit {done.returncode}, stdout is not JSON: "
                f"{done.stdout[:200]!r}; stderr: {stderr}"
            }
        if not isinstance(outcome, dict):
            return {"_runner_problem": f"stdout is not a JSON object: {outcome!r}"}
        if (done.returncode != 0) != ("error" in outcome):
            return {
                "_runner_problem": f"exit {done.returncode} does not agree with the outcome "
                f"{json.dumps(outcome)[:200]}"
            }
        return outcome


@dataclass
class CaseResult:
    """How one case went."""

    case: Case
    status: str  # "passed", "failed", "skipped"
    problems: list[str] = field(default_factory=list)
    outcome: Mapping[str, Any] | None = None
    matched: str = "expect"  # or "go_expect"
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "file": str(self.case.file),
            "status": self.status,
            "matched": self.matched if self.status == "passed" else None,
            "problems": self.problems,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 4),
        }


class Upstream(Protocol):
    """The emulator, as the runner drives it."""

    base_url: str

    def prepare(self, interactions: list[dict[str, Any]], faults: Sequence[str]) -> None: ...

    def received(self) -> list[dict[str, Any]]: ...

    def unused(self) -> list[dict[str, Any]]: ...


def _outcome_problems(expect: Mapping[str, Any], outcome: Mapping[str, Any]) -> list[str]:
    if "_runner_problem" in outcome:
        return [str(outcome["_runner_problem"])]
    if "error" in expect:
        wanted = expect["error"]
        if "error" not in outcome:
            return ["expected an error, got an outcome:\n" + _diff(wanted, outcome)]
        message = str(outcome["error"])
        if wanted.get("match", "exact") == "prefix":
            if not message.startswith(wanted["message"]):
                return [f"error does not start as expected:\n{_diff(wanted['message'], message)}"]
            return []
        if message != wanted["message"]:
            return [f"error message differs:\n{_diff(wanted['message'], message)}"]
        return []
    (key,) = (k for k in ("scores", "results", "settings", "params") if k in expect)
    if "error" in outcome:
        return [f"expected {key}, got the error: {outcome['error']}"]
    if key not in outcome:
        return [f"expected {key}, got: {json.dumps(outcome)[:300]}"]
    if not _same(outcome[key], expect[key]):
        return [f"{key} differ:\n{_diff(expect[key], outcome[key])}"]
    return []


def _same(actual: Any, wanted: Any) -> bool:
    """JSON equality, where a bool never equals a number."""
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return type(actual) is type(wanted) and actual == wanted
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return float(actual) == float(wanted)
    if isinstance(wanted, list) and isinstance(actual, list):
        return len(wanted) == len(actual) and all(map(_same, actual, wanted))
    if isinstance(wanted, dict) and isinstance(actual, dict):
        return wanted.keys() == actual.keys() and all(_same(actual[k], wanted[k]) for k in wanted)
    return type(actual) is type(wanted) and actual == wanted


def _diff(wanted: Any, actual: Any) -> str:
    def lines(value: Any) -> list[str]:
        text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
        return text.splitlines() or [""]

    return "\n".join(
        difflib.unified_diff(lines(wanted), lines(actual), "expected", "actual", lineterm="")
    )


def _request_key(method: str, path: str, body: Any) -> str:
    return json.dumps([method.upper(), path, body], sort_keys=True)


def _path_of(url: str) -> str:
    return httpx.URL(url).raw_path.decode("ascii").split("?", 1)[0]


def _request_problems(
    expected: Sequence[Mapping[str, Any]], received: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Compare as multisets (chunks may arrive in any order), then headers and exact bytes."""
    problems: list[str] = []
    if len(expected) != len(received):
        problems.append(
            f"expected {len(expected)} request(s), the emulator received {len(received)}: "
            + ", ".join(f"{r['method']} {r['path']}" for r in received)
        )
    remaining = list(received)
    for want in expected:
        want_body = want.get("json", json.loads(want["body"]) if "body" in want else None)
        key = _request_key(want["method"], _path_of(want["url"]), want_body)
        match = next(
            (r for r in remaining if _request_key(r["method"], r["path"], r.get("json")) == key),
            None,
        )
        if match is None:
            if len(expected) == len(received):
                problems.append(
                    f"no received request matches {want['method']} {want['url']}:\n"
                    + _diff(want_body, [r.get("json") for r in remaining])
                )
            continue
        remaining.remove(match)
        headers = {k.lower(): v for k, v in match["headers"].items()}
        for name, value in want.get("headers", {}).items():
            if name.lower() == "authorization":
                # The emulator keeps only a digest of this header (it carries the key).
                digest = hashlib.sha256(value.encode()).hexdigest()
                if match.get("authorization_sha256") != digest:
                    problems.append(f"request header {name}: expected {value!r}, got another value")
                continue
            got = headers.get(name.lower())
            if got != value:
                problems.append(f"request header {name}: expected {value!r}, got {got!r}")
        if "body" in want and match["body"] != want["body"]:
            problems.append(f"request body bytes differ:\n{_diff(want['body'], match['body'])}")
    return problems


def interactions_for(case: Case, cassettes: Path, base_url: str) -> list[dict[str, Any]]:
    """The upstream answers to replay: a cassette, or the replies paired with the requests."""
    upstream = case.upstream
    if "cassette" in upstream:
        return load_interactions(cassettes / f"{upstream['cassette']}.yaml")
    replies = upstream.get("replies", [])
    requests = substitute(case.expect.get("requests", []), base_url)
    out: list[dict[str, Any]] = []
    for request, reply in zip(requests, replies, strict=False):
        body = json.dumps(request["json"]) if "json" in request else request.get("body", "")
        if "json" in reply:
            response_body = json.dumps(reply["json"], separators=(",", ":"), ensure_ascii=False)
            headers = {"Content-Type": "application/json", **reply.get("headers", {})}
        else:
            response_body = reply.get("body", "")
            headers = dict(reply.get("headers", {}))
        out.append(
            {
                "request": {"method": request["method"], "uri": request["url"], "body": body},
                "response": {
                    "status": {"code": reply["status"], "message": ""},
                    "headers": {name: [value] for name, value in headers.items()},
                    "body": {"string": response_body},
                },
            }
        )
    return out


def _evaluate(
    expect: Mapping[str, Any],
    outcome: Mapping[str, Any],
    received: Sequence[Mapping[str, Any]] | None,
    unused: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Steps 5 and 6 for one expectation (``expect`` or ``go_expect``)."""
    problems = _outcome_problems(expect, outcome)
    if received is not None:
        if expect.get("requests") is not None:
            problems.extend(_request_problems(expect["requests"], received))
        if unused and not problems:
            problems.append(f"{len(unused)} upstream answer(s) were never asked for")
    return problems


def run_case(
    case: Case,
    implementation: Implementation,
    upstream: Upstream | None,
    cassettes: Path,
    *,
    allow_go: bool = False,
) -> CaseResult:
    """Run one case and judge it (README, "The runner, step by step", steps 3 to 7)."""
    started = time.monotonic()
    base_url = upstream.base_url if upstream is not None else "http://127.0.0.1:9"
    uses_upstream = case.kind in NEEDS_UPSTREAM and upstream is not None
    if uses_upstream:
        assert upstream is not None
        upstream.prepare(
            interactions_for(case, cassettes, base_url), case.upstream.get("faults", [])
        )
    input_ = substitute(dict(case.input), base_url)
    env = input_.pop("env", {})
    outcome = implementation.run(case.kind, input_, env)
    received: list[dict[str, Any]] | None = None
    unused: list[dict[str, Any]] = []
    if uses_upstream:
        assert upstream is not None
        received = upstream.received()
        unused = upstream.unused()
    problems = _evaluate(substitute(case.expect, base_url), outcome, received, unused)
    matched = "expect"
    if problems and allow_go and case.go_expect is not None:
        go_problems = _evaluate(substitute(case.go_expect, base_url), outcome, received, unused)
        if not go_problems:
            problems, matched = [], "go_expect"
    return CaseResult(
        case=case,
        status="failed" if problems else "passed",
        problems=problems,
        outcome=outcome,
        matched=matched,
        seconds=time.monotonic() - started,
    )


def run_cases(
    cases: Sequence[Case],
    implementation: Implementation,
    upstream: Upstream | None,
    cassettes: Path,
    *,
    allow_go: bool = False,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    results = []
    for case in cases:
        result = run_case(case, implementation, upstream, cassettes, allow_go=allow_go)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def summary(results: Sequence[CaseResult]) -> str:
    passed = sum(r.status == "passed" for r in results)
    failed = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    text = f"{passed} passed, {failed} failed"
    return f"{text}, {skipped} skipped" if skipped else text


def report_json(results: Sequence[CaseResult], implementation: Implementation) -> dict[str, Any]:
    return {
        "implementation": implementation.name,
        "summary": summary(results),
        "passed": sum(r.status == "passed" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "cases": [r.to_json() for r in results],
    }


class EmulatorUpstream:
    """The NIM emulator in replay mode, on loopback, driven through its state.

    One server serves the whole run; ``prepare`` resets it and loads a case's
    interactions and faults.
    """

    def __init__(self, base_url: str, state: Any) -> None:
        self.base_url = base_url
        self._state = state

    def prepare(self, interactions: list[dict[str, Any]], faults: Sequence[str]) -> None:
        from nim_emulator import parse_cassette  # noqa: PLC0415

        self._state.reset()
        cassette = parse_cassette(
            {"version": 1, "interactions": interactions}, source="contract case"
        )
        self._state.use_cassette(cassette)
        for spec in faults:
            self._state.add_fault(spec)

    def received(self) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self._state.requests]

    def unused(self) -> list[dict[str, Any]]:
        return [interaction.summary() for interaction in self._state.unused_interactions()]


@contextmanager
def emulator_upstream() -> Iterator[EmulatorUpstream]:
    """Start the emulator for a run (step 2 of the runner)."""
    from nim_emulator import create_app, running_emulator  # noqa: PLC0415

    app = create_app()
    with running_emulator(app=app) as base_url:
        yield EmulatorUpstream(base_url, app.state.emulator)


def _live_problems(expect: Mapping[str, Any], outcome: Mapping[str, Any]) -> list[str]:
    """Live answers come from NVIDIA's model: scores are checked for count and finiteness."""
    if "scores" not in expect:
        return _outcome_problems(expect, outcome)
    scores = outcome.get("scores")
    if not isinstance(scores, list):
        return [f"expected scores, got: {json.dumps(outcome)[:300]}"]
    problems = []
    if len(scores) != len(expect["scores"]):
        problems.append(f"expected {len(expect['scores'])} scores, got {len(scores)}")
    if not all(isinstance(s, int | float) and math.isfinite(s) for s in scores):
        problems.append(f"every score must be a finite number: {scores}")
    return problems


def run_live(
    cases: Sequence[Case], implementation: Implementation, api_key: str
) -> list[CaseResult]:
    """The cases marked ``live``, against NVIDIA's service (README, ``--live``)."""
    results: list[CaseResult] = []
    for case in cases:
        if not case.live:
            continue
        if not api_key:
            results.append(CaseResult(case, "skipped", ["NVIDIA_APIKEY is not set"]))
            continue
        started = time.monotonic()
        input_ = substitute(dict(case.input), LIVE_BASE_URL)
        env = dict(input_.pop("env", {}))
        if "NVIDIA_APIKEY" in env:
            env["NVIDIA_APIKEY"] = api_key
        outcome = implementation.run(case.kind, input_, env)
        problems = _live_problems(substitute(case.expect, LIVE_BASE_URL), outcome)
        results.append(
            CaseResult(
                case,
                "failed" if problems else "passed",
                problems,
                outcome,
                seconds=time.monotonic() - started,
            )
        )
    return results
