"""Running contract cases against an implementation, and judging the outcome.

The runner algorithm is written out in contracts/README.md ("The runner,
step by step"); this module follows it. Each job has its own NIM emulator on
loopback (so parallel cases never see each other's traffic); before each case
the job's emulator is reset and loaded with the case's upstream answers (a
cassette, or the case's inline replies) to replay, and after the case its
request log is compared with the requests the case expects. The
implementations themselves (in-process, one process per case, a persistent
process per job) live in :mod:`reranker_contracts.implementations`.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
import queue
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from reranker_contracts.cassettes import read_cassette
from reranker_contracts.implementations import (
    MODULE_ENVIRONMENT,
    Implementation,
    ImplementationStartError,
    InProcess,
    Persistent,
    Subprocess,
    module_environment,
)
from reranker_contracts.isolation import IsolationError, enter_loopback_namespace
from reranker_contracts.isolation import unavailable as isolation_unavailable
from reranker_contracts.suite import (
    PLACEHOLDER_CLOSED_HOSTPORT,
    Case,
    off_machine_addresses,
    substitute,
)

if TYPE_CHECKING:
    from nim_emulator import Cassette, Interaction

__all__ = [
    "LIVE_BASE_URL",
    "MODULE_ENVIRONMENT",
    "NEEDS_UPSTREAM",
    "CaseResult",
    "EmulatorUpstream",
    "Implementation",
    "ImplementationStartError",
    "InProcess",
    "Persistent",
    "Subprocess",
    "Upstream",
    "closed_hostport",
    "emulator_upstream",
    "interactions_for",
    "judge_go_expect",
    "module_environment",
    "needs_isolation",
    "report_json",
    "run_case",
    "run_cases",
    "run_live",
    "run_suite",
    "summary",
]

NEEDS_UPSTREAM = ("rank", "rerank")
LIVE_BASE_URL = "https://ai.api.nvidia.com"
MISMATCH_STATUS = 599  # the emulator's answer to a request its cassette does not hold
# The request headers a mismatch report shows (Authorization by its scheme only).
SHOWN_HEADERS = ("Authorization", "Content-Type", "Accept")
# What a case's ``min_request_gap`` allows for timing noise (contracts/README.md): a share of
# the gap and some seconds. The emulator stamps a request when its event loop reads it, so a
# busy machine can bring two stamps closer than the requests were sent.
TIMING_SLACK_SHARE = 0.2
TIMING_SLACK = 0.010
# A diff of scores or results longer than this many lines is summarised in the readable report
# (ranges out of place, the first differences); the --json report keeps it whole.
DIFF_LINES_SHOWN = 40
SUMMARY_RANGES = 5
SUMMARY_DIFFERENCES = 5


@dataclass
class CaseResult:
    """How one case went; a skipped case's ``problems`` hold the reason it was skipped."""

    case: Case
    status: str  # "passed", "failed", "skipped"
    problems: list[str] = field(default_factory=list)
    outcome: Mapping[str, Any] | None = None
    matched: str = "expect"  # or "go_expect"
    seconds: float = 0.0
    # Why a skipped case was skipped: "tag", "go_skip", "isolation" (no loopback-only network).
    skipped_for: str = ""
    # The requests that reached the emulator (its request log), for rank and rerank cases,
    # the answers left unused, and what the placeholders stood for: enough to judge the
    # recorded outcome again (``contracts check --go-report``).
    received: list[dict[str, Any]] | None = None
    unused: list[dict[str, Any]] | None = None
    placeholders: dict[str, str] = field(default_factory=dict)
    go_served: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "file": str(self.case.file),
            "status": self.status,
            "matched": self.matched if self.status == "passed" else None,
            "problems": [getattr(problem, "full", problem) for problem in self.problems],
            "outcome": self.outcome,
            "seconds": round(self.seconds, 4),
            "received": self.received,
            "unused": self.unused,
            "placeholders": self.placeholders,
            "go_served": self.go_served,
        }


class Upstream(Protocol):
    """The emulator, as the runner drives it."""

    base_url: str

    def prepare(self, cassette: Cassette, faults: Sequence[str]) -> None:
        """Reset, then replay ``cassette`` (the emulator's typed one) and arm ``faults``."""
        ...

    def received(self) -> list[dict[str, Any]]: ...

    def unused(self) -> list[dict[str, Any]]: ...

    def mismatches(self) -> list[dict[str, Any]]:
        """The emulator's 599 answers since ``prepare``: what it received, expected, and why."""
        ...


# ---- judging the outcome ------------------------------------------------------------------


def _text_matches(wanted: Mapping[str, Any], message: str) -> bool:
    """An ``error`` or a warning: the exact text, or (``"match": "prefix"``) its start."""
    text = str(wanted["message"])
    return message.startswith(text) if wanted.get("match", "exact") == "prefix" else message == text


def _outcome_problems(expect: Mapping[str, Any], outcome: Mapping[str, Any]) -> list[str]:
    if "_runner_problem" in outcome:
        return [str(outcome["_runner_problem"])]
    problems = _warning_problems(expect["warnings"], outcome) if "warnings" in expect else []
    if "usage" in expect and not _same(outcome.get("usage"), expect["usage"]):
        problems.append(f"usage differs:\n{_diff(expect['usage'], outcome.get('usage'))}")
    if "error" in expect:
        wanted = expect["error"]
        if "error" not in outcome:
            return ["expected an error, got an outcome:\n" + _diff(wanted, outcome), *problems]
        message = str(outcome["error"])
        if _text_matches(wanted, message):
            return problems
        how = "does not start as expected" if wanted.get("match") == "prefix" else "message differs"
        return [f"error {how}:\n{_diff(wanted['message'], message)}", *problems]
    return _value_problems(expect, outcome) + problems


def _warning_problems(wanted: Sequence[Mapping[str, Any]], outcome: Mapping[str, Any]) -> list[str]:
    """The outcome's ``warnings`` (none when absent) against ``expect.warnings``, in order."""
    got = outcome.get("warnings", [])
    if not isinstance(got, list) or not all(isinstance(item, str) for item in got):
        return [f"warnings must be a list of strings, got: {json.dumps(got)[:300]}"]
    texts = [str(want["message"]) for want in wanted]
    if len(got) != len(wanted):
        return [f"expected {len(wanted)} warning(s), got {len(got)}:\n{_diff(texts, got)}"]
    return [
        f"warning {index} differs:\n{_diff(want['message'], message)}"
        for index, (want, message) in enumerate(zip(wanted, got, strict=True))
        if not _text_matches(want, message)
    ]


def _value_problems(expect: Mapping[str, Any], outcome: Mapping[str, Any]) -> list[str]:
    (key,) = (k for k in ("scores", "results", "settings", "params") if k in expect)
    if "error" in outcome:
        return [f"expected {key}, got the error: {outcome['error']}"]
    if key not in outcome:
        return [f"expected {key}, got: {json.dumps(outcome)[:300]}"]
    if not _same(outcome[key], expect[key]):
        full = f"{key} differ:\n{_diff(expect[key], outcome[key])}"
        if full.count("\n") <= DIFF_LINES_SHOWN:
            return [full]
        if isinstance(expect[key], list) and isinstance(outcome[key], list):
            summary = _list_summary(expect[key], outcome[key])
        else:
            summary = full.splitlines()[: DIFF_LINES_SHOWN + 1]
        lines = full.count("\n") - 2  # the diff's lines, without its two file headers
        summary.append(f"(the whole diff, {lines:,} lines, is in the --json report)")
        return [Problem.summarised("\n".join([f"{key} differ:", *summary[1:]]), full)]
    return []


class Problem(str):
    """A problem's text; ``full`` is the whole of it where the text summarises a long diff.

    The readable report prints the text; ``--json`` keeps ``full`` (CaseResult.to_json).
    """

    full: str

    @classmethod
    def summarised(cls, text: str, full: str) -> Problem:
        problem = cls(text)
        problem.full = full
        return problem


def _json_key(value: Any) -> str:
    """A value as JSON equality sees it (a whole number equals its float)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True)


def _runs(
    wanted: Sequence[Any], actual: Sequence[Any], differing: Sequence[int]
) -> list[tuple[int, int | None, int, int]]:
    """Out-of-place ranges: (first position, expected position of its first value, length, step).

    A range of differing positions whose values are expected at consecutive positions
    elsewhere (a chunk out of order: step 1; reversed: step -1) is one run; values expected
    nowhere give ``None``.
    """
    where: dict[str, set[int]] = {}
    for index, value in enumerate(wanted):
        where.setdefault(_json_key(value), set()).add(index)
    runs: list[tuple[int, int | None, int, int]] = []
    for position in differing:
        places = where.get(_json_key(actual[position]), set())
        if runs:
            first, source, length, step = runs[-1]
            if first + length == position:
                if source is None and not places:
                    runs[-1] = (first, None, length + 1, step)
                    continue
                if source is not None:
                    steps = (step, -step) if length == 1 else (step,)
                    turned = next((s for s in steps if source + s * length in places), None)
                    if turned is not None:
                        runs[-1] = (first, source, length + 1, turned)
                        continue
        source = min((p for p in places if p != position), default=None)
        runs.append((position, source, 1, 1))
    return runs


def _span(first: int, length: int, step: int = 1) -> str:
    return f"{first}" if length == 1 else f"{first}–{first + step * (length - 1)}"


def _list_summary(wanted: Sequence[Any], actual: Sequence[Any]) -> list[str]:
    """A long list diff in a few lines: which ranges are out of place, the first differences."""
    common = min(len(wanted), len(actual))
    differing = [i for i in range(common) if not _same(actual[i], wanted[i])]
    lines = [""]
    if len(wanted) != len(actual):
        lines.append(f"expected {len(wanted):,} values, got {len(actual):,}")
    lines.append(f"{len(differing):,} of the first {common:,} positions differ")
    runs = _runs(wanted, actual, differing)
    for first, source, length, step in runs[:SUMMARY_RANGES]:
        positions = f"position{'s' if length > 1 else ''} {_span(first, length)}"
        if source is None:
            lines.append(f"  {positions}: values expected nowhere")
        else:
            at = _span(source, length, step)
            lines.append(f"  {positions}: the values expected at {at}")
    if len(runs) > SUMMARY_RANGES:
        lines.append(f"  … and {len(runs) - SUMMARY_RANGES:,} more ranges")
    lines.append("first differences:")
    for position in differing[:SUMMARY_DIFFERENCES]:
        lines.append(
            f"  [{position}] expected {json.dumps(wanted[position])[:100]}, "
            f"got {json.dumps(actual[position])[:100]}"
        )
    return lines


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


# ---- judging the requests -----------------------------------------------------------------


def _request_key(method: str, path: str, body: Any) -> str:
    return json.dumps([method.upper(), path, body], sort_keys=True)


def _path_of(url: str) -> str:
    return httpx.URL(url).raw_path.decode("ascii").split("?", 1)[0]


def _wanted_body(want: Mapping[str, Any]) -> Any:
    return want.get("json", json.loads(want["body"]) if "body" in want else None)


def _scheme_only(value: str) -> str:
    """An Authorization value without its credentials: ``Bearer <key>``."""
    scheme, _, token = value.partition(" ")
    return f"{scheme} <key>" if token.strip() else ("(empty)" if not value else "<key>")


def _shown_expected(want: Mapping[str, Any]) -> str:
    headers = {k.lower(): v for k, v in want.get("headers", {}).items()}
    parts = [f"{want['method']} {_path_of(want['url'])}"]
    for name in SHOWN_HEADERS:
        value = headers.get(name.lower())
        if name.lower() not in headers:
            parts.append(f"{name}: (any)")
        elif value is None:
            parts.append(f"{name}: (absent)")
        else:
            parts.append(f"{name}: {_scheme_only(value) if name == 'Authorization' else value}")
    return "; ".join(parts)


def _shown_received(record: Mapping[str, Any]) -> str:
    # The emulator's log already keeps only Authorization's scheme ("Bearer <redacted>").
    headers = {k.lower(): v for k, v in record.get("headers", {}).items()}
    query = f"?{record['query']}" if record.get("query") else ""
    parts = [f"{record['method']} {record['path']}{query}"]
    for name in SHOWN_HEADERS:
        value = headers.get(name.lower())
        parts.append(f"{name}: (absent)" if value is None else f"{name}: {value}")
    return "; ".join(parts)


def _closest(want: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The received request most like ``want``: same body first, then same path, same method."""
    body, path, method = _wanted_body(want), _path_of(want["url"]), want["method"].upper()

    def likeness(record: Mapping[str, Any]) -> tuple[bool, bool, bool]:
        return (
            _request_key("", "", record.get("json")) == _request_key("", "", body),
            record["path"] == path,
            record["method"].upper() == method,
        )

    return max(candidates, key=likeness)


def _no_match(want: Mapping[str, Any], remaining: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"no received request matches {want['method']} {want['url']}"]
    lines.append(f"  expected: {_shown_expected(want)}")
    if not remaining:
        lines.append("  received: nothing left to match")
        return "\n".join(lines)
    closest = _closest(want, remaining)
    lines.append(f"  received: {_shown_received(closest)}")
    want_body = _wanted_body(want)
    if _request_key("", "", closest.get("json")) == _request_key("", "", want_body):
        lines.append("  body: the same JSON as expected")
    else:
        lines.append("  body differs:")
        lines.extend(f"  {line}" for line in _diff(want_body, closest.get("json")).splitlines())
    return "\n".join(lines)


def _header_problems(want: Mapping[str, Any], match: Mapping[str, Any]) -> list[str]:
    """Each listed header present with exactly its value; a ``null`` one absent."""
    problems: list[str] = []
    headers = {k.lower(): v for k, v in match["headers"].items()}
    for name, value in want.get("headers", {}).items():
        if value is None:
            if name.lower() in headers or (
                name.lower() == "authorization" and match.get("authorization_sha256")
            ):
                problems.append(
                    f"request header {name}: expected none, got {headers.get(name.lower())!r}"
                )
            continue
        if name.lower() == "authorization":
            # The emulator keeps only a digest of this header (it carries the key).
            digest = hashlib.sha256(value.encode()).hexdigest()
            if match.get("authorization_sha256") != digest:
                sent = "none" if name.lower() not in headers else "another value"
                problems.append(f"request header {name}: expected {value!r}, got {sent}")
            continue
        got = headers.get(name.lower())
        if got != value:
            problems.append(f"request header {name}: expected {value!r}, got {got!r}")
    return problems


def _order_problems(
    expected: Sequence[Mapping[str, Any]], received: Sequence[Mapping[str, Any]]
) -> list[str]:
    """``requests_in_order``: the requests arrived in the listed order (by the emulator's seq)."""
    wanted = [f"{w['method'].upper()} {_path_of(w['url'])}" for w in expected]
    arrived = sorted(received, key=lambda r: r.get("seq", 0))
    keys = [_request_key(w["method"], _path_of(w["url"]), _wanted_body(w)) for w in expected]
    got = [_request_key(r["method"], r["path"], r.get("json")) for r in arrived]
    if keys == got:
        return []
    shown = [f"{r['method'].upper()} {r['path']}" for r in arrived]
    return [f"the requests arrived in another order than listed:\n{_diff(wanted, shown)}"]


def _arrival(record: Mapping[str, Any]) -> float | None:
    """When the emulator received a request: ``received_at`` (monotonic), else ``time``."""
    value = record.get("received_at", record.get("time"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _gap_problems(min_gap: float, received: Sequence[Mapping[str, Any]]) -> list[str]:
    """``min_request_gap``: no two consecutive arrivals closer than the case allows."""
    times = sorted(t for t in map(_arrival, received) if t is not None)
    if len(times) < len(received):
        return ["the emulator's request log gives no arrival time (received_at or time)"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    allowed = min_gap * (1 - TIMING_SLACK_SHARE) - TIMING_SLACK
    if not gaps or min(gaps) >= allowed:
        return []
    return [
        f"two requests arrived {min(gaps) * 1000:.1f} ms apart; the case requires at least "
        f"{min_gap * 1000:g} ms ({allowed * 1000:g} ms, less timing noise)"
    ]


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
        key = _request_key(want["method"], _path_of(want["url"]), _wanted_body(want))
        match = next(
            (r for r in remaining if _request_key(r["method"], r["path"], r.get("json")) == key),
            None,
        )
        if match is None:
            if len(expected) == len(received):
                problems.append(_no_match(want, remaining))
            continue
        remaining.remove(match)
        problems.extend(_header_problems(want, match))
        if "body" in want and match["body"] != want["body"]:
            problems.append(f"request body bytes differ:\n{_diff(want['body'], match['body'])}")
    return problems


def _mismatch_lines(mismatches: Sequence[Mapping[str, Any]]) -> list[str]:
    """The emulator's own reason for each request it could not match (its 599 answers)."""
    lines = []
    for item in mismatches:
        received = item.get("received") or {}
        line = (
            f"the emulator answered {MISMATCH_STATUS} to {received.get('method')} "
            f"{received.get('path')}: {item.get('reason')}"
        )
        expected = item.get("expected")
        if isinstance(expected, dict):
            line += f" (it expected {expected.get('method')} {expected.get('path')})"
        lines.append(line)
    return lines


# ---- the upstream of a case ---------------------------------------------------------------


def _interaction(request: Mapping[str, Any], reply: Mapping[str, Any]) -> dict[str, Any]:
    body = json.dumps(request["json"]) if "json" in request else request.get("body", "")
    if "json" in reply:
        response_body = json.dumps(reply["json"], separators=(",", ":"), ensure_ascii=False)
        headers = {"Content-Type": "application/json", **reply.get("headers", {})}
    else:
        response_body = reply.get("body", "")
        headers = dict(reply.get("headers", {}))
    return {
        "request": {"method": request["method"], "uri": request["url"], "body": body},
        "response": {
            "status": {"code": reply["status"], "message": ""},
            "headers": {name: [value] for name, value in headers.items()},
            "body": {"string": response_body},
        },
    }


@dataclass
class _Plan:
    """What the emulator replays for a case, and which interactions each alternative uses.

    ``expect`` and ``go`` are interaction indices; None means all of them (a cassette).
    """

    interactions: list[dict[str, Any]]
    expect: set[int] | None = None
    go: set[int] | None = None
    cassette: Cassette | None = None

    def replayed(self, case_id: str) -> Cassette:
        """The cassette to replay: the file's, or the inline replies as the emulator reads them."""
        if self.cassette is not None:
            return self.cassette
        from nim_emulator import parse_cassette  # noqa: PLC0415 - the contracts extra

        return parse_cassette(
            {"version": 1, "interactions": self.interactions}, source=f"contract case {case_id}"
        )


def _plan(case: Case, cassettes: Path, base_url: str, *, allow_go: bool) -> _Plan:
    upstream = case.upstream
    if "cassette" in upstream:
        # The emulator's own typed reader: what replay loads is what was read.
        return _Plan([], cassette=read_cassette(cassettes / f"{upstream['cassette']}.yaml"))
    replies = upstream.get("replies", [])
    requests = substitute(case.expect.get("requests", []), base_url)
    interactions = [
        _interaction(request, reply) for request, reply in zip(requests, replies, strict=False)
    ]
    plan = _Plan(interactions, expect=set(range(len(interactions))))
    go_requests = (case.go_expect or {}).get("requests")
    if not allow_go or go_requests is None:
        plan.go = plan.expect
        return plan
    # Go's requests get the same replies, so a Go-like implementation gets its answers too.
    plan.go = set()
    for index, (request, reply) in enumerate(
        zip(substitute(go_requests, base_url), replies, strict=False)
    ):
        key = _request_key(request["method"], _path_of(request["url"]), _wanted_body(request))
        if index < len(requests):
            same = requests[index]
            if key == _request_key(same["method"], _path_of(same["url"]), _wanted_body(same)):
                plan.go.add(index)
                continue
        plan.go.add(len(interactions))
        interactions.append(_interaction(request, reply))
    return plan


def interactions_for(
    case: Case, cassettes: Path, base_url: str, *, allow_go: bool = False
) -> tuple[Interaction, ...]:
    """The upstream answers to replay: a cassette, or the replies paired with the requests.

    Under ``allow_go`` the replies are paired with ``go_expect.requests`` too, where they differ.
    """
    return _plan(case, cassettes, base_url, allow_go=allow_go).replayed(case.id).interactions


def closed_hostport() -> str:
    """``127.0.0.1:PORT`` for a port just bound and closed: nothing listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


# ---- running a case -----------------------------------------------------------------------


def _evaluate(
    expect: Mapping[str, Any],
    requests: Sequence[Mapping[str, Any]] | None,
    outcome: Mapping[str, Any],
    received: Sequence[Mapping[str, Any]] | None,
    unused: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Steps 5 and 6 for one alternative (``expect`` or ``go_expect``)."""
    problems = _outcome_problems(expect, outcome)
    if received is not None:
        if requests is not None:
            problems.extend(_request_problems(requests, received))
            if expect.get("requests_in_order") and not problems:
                problems.extend(_order_problems(requests, received))
        if "min_request_gap" in expect:
            problems.extend(_gap_problems(float(expect["min_request_gap"]), received))
        if unused and not problems:
            problems.append(f"{len(unused)} upstream answer(s) were never asked for")
    return problems


def _only(unused: Sequence[Mapping[str, Any]], indices: set[int] | None) -> list[dict[str, Any]]:
    return [dict(u) for u in unused if indices is None or u.get("index") in indices]


def run_case(
    case: Case,
    implementation: Implementation,
    upstream: Upstream | None,
    cassettes: Path,
    *,
    allow_go: bool = False,
    go_expect_only: bool = False,
) -> CaseResult:
    """Run one case and judge it (README, "The runner, step by step", steps 3 to 8).

    ``go_expect_only`` (``--go-expect``) judges a case that has a ``go_expect`` by it
    alone, outcome and requests, as if it were the ``expect``: run against Go, it checks
    every ``go_expect`` on its own, even one whose outcome ``expect`` would accept too.
    """
    go = allow_go or go_expect_only
    if go and case.go_skip:
        return CaseResult(case, "skipped", [case.go_skip], skipped_for="go_skip")
    started = time.monotonic()
    base_url = upstream.base_url if upstream is not None else "http://127.0.0.1:9"
    text = json.dumps([case.input, case.expect, case.go_expect])
    closed = closed_hostport() if PLACEHOLDER_CLOSED_HOSTPORT in text else None
    uses_upstream = case.kind in NEEDS_UPSTREAM and upstream is not None
    plan = _Plan([])
    if uses_upstream:
        assert upstream is not None
        plan = _plan(case, cassettes, base_url, allow_go=go)
        upstream.prepare(plan.replayed(case.id), case.upstream.get("faults", []))
    input_ = substitute(dict(case.input), base_url, closed)
    env = input_.pop("env", {})
    outcome = implementation.run(case.kind, input_, env)
    received: list[dict[str, Any]] | None = None
    unused: list[dict[str, Any]] = []
    mismatches: list[dict[str, Any]] = []
    if uses_upstream:
        assert upstream is not None
        received = upstream.received()
        unused = upstream.unused()
        mismatches = upstream.mismatches()
    expect = substitute(case.expect, base_url, closed)
    matched = "expect"
    if go_expect_only and case.go_expect is not None:
        go_expect = substitute(case.go_expect, base_url, closed)
        problems = _evaluate(
            go_expect,
            go_expect.get("requests", expect.get("requests")),
            outcome,
            received,
            _only(unused, plan.go),
        )
        matched = "go_expect"
    else:
        problems = _evaluate(
            expect, expect.get("requests"), outcome, received, _only(unused, plan.expect)
        )
    if problems and allow_go and not go_expect_only and case.go_expect is not None:
        go_expect = substitute(case.go_expect, base_url, closed)
        go_problems = _evaluate(
            go_expect,
            go_expect.get("requests", expect.get("requests")),
            outcome,
            received,
            _only(unused, plan.go),
        )
        if not go_problems:
            problems, matched = [], "go_expect"
        else:
            problems.append("nor does it meet go_expect: " + go_problems[0])
    if problems and mismatches:
        problems.extend(_mismatch_lines(mismatches))
    return CaseResult(
        case=case,
        status="failed" if problems else "passed",
        problems=problems,
        outcome=outcome,
        matched=matched,
        seconds=time.monotonic() - started,
        received=received,
        unused=unused if uses_upstream else None,
        placeholders={"base": base_url, **({"closed_hostport": closed} if closed else {})},
        go_served=go and uses_upstream,
    )


def judge_go_expect(case: Case, recorded: Mapping[str, Any], cassettes: Path) -> list[str]:
    """Whether ``case.go_expect`` holds for an outcome recorded in a ``--json`` report.

    ``recorded`` is the case's entry in the report of a run against Go under ``--go-expect``
    (or ``--allow-go``): its outcome, the requests the emulator received and the answers left
    unused are judged by ``go_expect`` alone, as ``--go-expect`` does (steps 6 to 8).
    """
    assert case.go_expect is not None
    outcome = recorded.get("outcome")
    if recorded.get("status") == "skipped" or not isinstance(outcome, dict):
        return ["the report holds no outcome for it"]
    placeholders = recorded.get("placeholders") or {}
    base_url = str(placeholders.get("base", "http://127.0.0.1:9"))
    closed = placeholders.get("closed_hostport")
    received = recorded.get("received")
    indices: set[int] | None = None
    if case.kind in NEEDS_UPSTREAM and received is not None:
        if not recorded.get("go_served"):
            return ["the run did not serve Go's requests: record it with --go-expect"]
        indices = _plan(case, cassettes, base_url, allow_go=True).go
    expect = substitute(case.expect, base_url, closed)
    go_expect = substitute(case.go_expect, base_url, closed)
    return _evaluate(
        go_expect,
        go_expect.get("requests", expect.get("requests")),
        outcome,
        received,
        _only(recorded.get("unused") or [], indices),
    )


def run_cases(
    cases: Sequence[Case],
    implementation: Implementation,
    upstream: Upstream | None,
    cassettes: Path,
    *,
    allow_go: bool = False,
    go_expect_only: bool = False,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run cases one after the other against one upstream (no isolation: see run_suite)."""
    results = []
    for case in cases:
        result = run_case(
            case,
            implementation,
            upstream,
            cassettes,
            allow_go=allow_go,
            go_expect_only=go_expect_only,
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


UpstreamFactory = Callable[[], AbstractContextManager[Upstream]]


def _default_jobs() -> int:
    return os.cpu_count() or 1


def needs_isolation(case: Case, *, allow_go: bool = False) -> list[str]:
    """The addresses off this machine that ``case`` gives, when it is going to run."""
    if allow_go and case.go_skip:
        return []  # skipped by go_skip: it never reaches the implementation
    return off_machine_addresses(case.kind, case.input)


def _isolation_skip(case: Case, addresses: Sequence[str], why: str) -> CaseResult:
    shown = ", ".join(addresses)
    return CaseResult(
        case,
        "skipped",
        [
            f"it gives the implementation an address off this machine ({shown}); such cases run "
            f"only in a loopback-only network namespace, and none can be made here: {why}"
        ],
        skipped_for="isolation",
    )


def run_suite(
    cases: Sequence[Case],
    implementation: Implementation,
    cassettes: Path,
    *,
    jobs: int | None = None,
    allow_go: bool = False,
    go_expect_only: bool = False,
    skip_tags: Sequence[str] = (),
    on_result: Callable[[CaseResult], None] | None = None,
    upstream_factory: UpstreamFactory | None = None,
    isolation: Callable[[], str | None] | None = None,
) -> list[CaseResult]:
    """Run cases on ``jobs`` parallel jobs (default: the CPU count), each with its own emulator.

    Results come back, and ``on_result`` sees them, in the order of ``cases``.
    The first case runs alone, so an implementation that cannot start stops
    the run once (:class:`ImplementationStartError`) instead of failing every
    case. An implementation whose ``parallel`` is False (in-process) uses one job.

    A case that gives the implementation an address off this machine
    (:func:`needs_isolation`) runs on a job of its own, whose thread, emulator
    and adapter processes are in a loopback-only network namespace
    (:mod:`reranker_contracts.isolation`); where none can be made
    (``isolation()``, default :func:`~reranker_contracts.isolation.unavailable`,
    gives the reason) it is skipped.
    """
    factory: UpstreamFactory = upstream_factory or emulator_upstream
    results: list[CaseResult | None] = [None] * len(cases)
    lock = threading.Lock()
    emitted = 0

    def finish(index: int, result: CaseResult) -> None:
        nonlocal emitted
        with lock:
            results[index] = result
            while emitted < len(results) and results[emitted] is not None:
                done = results[emitted]
                emitted += 1
                if on_result is not None and done is not None:
                    on_result(done)

    todo: list[int] = []
    isolated: list[int] = []
    for index, case in enumerate(cases):
        tagged = [tag for tag in case.tags if tag in skip_tags]
        if tagged:
            finish(
                index,
                CaseResult(case, "skipped", [f"tagged {', '.join(tagged)}"], skipped_for="tag"),
            )
        elif needs_isolation(case, allow_go=allow_go or go_expect_only):
            isolated.append(index)
        else:
            todo.append(index)
    if isolated:
        why = (isolation or isolation_unavailable)()
        if why is not None:
            for index in isolated:
                case = cases[index]
                finish(index, _isolation_skip(case, needs_isolation(case), why))
            isolated = []
    wanted = jobs if jobs is not None else _default_jobs()
    parallel = getattr(implementation, "parallel", True)
    if not parallel:
        wanted = 1
    workers = max(1, min(wanted, len(todo)))
    failures: list[BaseException] = []

    def run_one(index: int, upstream: Upstream) -> None:
        finish(
            index,
            run_case(
                cases[index],
                implementation,
                upstream,
                cassettes,
                allow_go=allow_go,
                go_expect_only=go_expect_only,
            ),
        )

    def isolated_job() -> None:
        """The off-machine cases, one after the other, in a loopback-only network namespace."""
        try:
            enter_loopback_namespace()
        except IsolationError as err:
            for index in isolated:
                finish(
                    index, _isolation_skip(cases[index], needs_isolation(cases[index]), str(err))
                )
            return
        try:
            with factory() as own:
                for index in isolated:
                    if failures:
                        return
                    run_one(index, own)
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(err)

    def start_isolated() -> threading.Thread | None:
        if not isolated:
            return None
        # A thread of its own: the namespace it enters stays with it, and ends with it.
        thread = threading.Thread(target=isolated_job, name="reranker-contracts-isolated")
        thread.start()
        return thread

    if not todo:
        thread = start_isolated()
        if thread is not None:
            thread.join()
        if failures:
            raise failures[0]
        return [r for r in results if r is not None]
    with factory() as first:
        run_one(todo[0], first)  # alone: a start-up failure is raised once, here
        pending: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in todo[1:]:
            pending.put(index)

        def work(upstream: Upstream) -> None:
            while not failures:
                try:
                    index = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    run_one(index, upstream)
                except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                    failures.append(err)
                    return

        def job() -> None:
            try:
                with factory() as own:
                    work(own)
            except BaseException as err:  # noqa: BLE001 - e.g. an emulator that cannot start
                failures.append(err)

        threads = [threading.Thread(target=job, daemon=True) for _ in range(workers - 1)]
        for thread in threads:
            thread.start()
        # In-process cases share this process's environment: never two at a time.
        side = start_isolated() if parallel else None
        work(first)
        for thread in threads:
            thread.join()
        if not parallel and not failures:
            side = start_isolated()
        if side is not None:
            side.join()
        if failures:
            raise failures[0]
    return [r for r in results if r is not None]


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


# ---- the emulator as the upstream ---------------------------------------------------------

_ASGI = Callable[[Any, Any, Any], Awaitable[None]]


class _MismatchRecorder:
    """ASGI middleware that keeps the JSON body of every 599 the emulator sends.

    In replay mode the emulator answers a request its cassette does not hold
    with 599 and a body saying what it received, what it expected and why;
    the request log keeps only the status, so the runner keeps the bodies.
    """

    def __init__(self, app: _ASGI, *, sink: list[dict[str, Any]], lock: threading.Lock) -> None:
        self.app = app
        self.sink = sink
        self.lock = lock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == MISMATCH_STATUS:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._keep(b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)

    def _keep(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            data = {"reason": body.decode("utf-8", "replace")[:300]}
        if isinstance(data, dict):
            with self.lock:
                self.sink.append(data)


class EmulatorUpstream:
    """The NIM emulator in replay mode, on loopback, driven through its state.

    One server serves one job; ``prepare`` resets it and loads a case's
    interactions and faults.
    """

    def __init__(
        self,
        base_url: str,
        state: Any,
        mismatch_log: list[dict[str, Any]] | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.base_url = base_url
        self._state = state
        self._mismatches = mismatch_log if mismatch_log is not None else []
        self._lock = lock or threading.Lock()

    def prepare(self, cassette: Cassette, faults: Sequence[str]) -> None:
        self._state.reset()
        with self._lock:
            self._mismatches.clear()
        self._state.use_cassette(cassette)
        for spec in faults:
            self._state.add_fault(spec)

    def received(self) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self._state.requests]

    def unused(self) -> list[dict[str, Any]]:
        return [interaction.summary() for interaction in self._state.unused_interactions()]

    def mismatches(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._mismatches]


@contextmanager
def emulator_upstream() -> Iterator[EmulatorUpstream]:
    """Start an emulator for a job (step 2 of the runner)."""
    from nim_emulator import create_app, running_emulator  # noqa: PLC0415

    app = create_app()
    sink: list[dict[str, Any]] = []
    lock = threading.Lock()
    app.add_middleware(_MismatchRecorder, sink=sink, lock=lock)
    with running_emulator(app=app) as base_url:
        yield EmulatorUpstream(base_url, app.state.emulator, sink, lock)


# ---- live ---------------------------------------------------------------------------------


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
