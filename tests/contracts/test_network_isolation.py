"""No case makes an implementation send a packet off this machine, whatever it does.

The cases that give an implementation an address off this machine run only in
a loopback-only network namespace (reranker_contracts/isolation.py), and are
skipped where none can be made. These tests run them against a deliberately
non-refusing fake adapter that really dials the base URL it is given, and read
back where each dial went.

The fake adapter never lets a packet out, even if the runner were wrong: it
dials a non-loopback address only when it finds itself in a network namespace
other than the test's, with nothing but ``lo`` in it; otherwise it writes down
the address it would have dialled and holds back.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from reranker_contracts import isolation
from reranker_contracts.implementations import Persistent, Subprocess
from reranker_contracts.runner import CaseResult, InProcess, run_suite
from reranker_contracts.suite import (
    OFF_MACHINE_TAG,
    Case,
    dial_targets,
    load_cases,
    off_machine_addresses,
    substitute,
)

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "contracts"
CASSETTES = ROOT / "cassettes"

# Given a case's input, dial the base URL a module would use (header, then settings, then
# NVIDIA's), refusing nothing; log where the dial went and from which network namespace.
DIALLER = r"""
import ipaddress, json, os, socket, sys
from urllib.parse import unquote, urlsplit

LOG, PARENT = os.environ["DIAL_LOG"], os.environ["DIAL_PARENT_NETWORK"]


def target(input_):
    for name, value in input_.get("headers") or []:
        if name.lower() == "x-nvidia-baseurl":
            return value
    configs = [input_.get("settings") or {}]
    class_def = input_.get("class")
    if isinstance(class_def, dict):
        configs += list((class_def.get("moduleConfig") or {}).values())
    for config in configs:
        if isinstance(config, dict) and "baseURL" in config:
            return config["baseURL"]
    return "https://ai.api.nvidia.com"


def loopback(host):
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def dial(input_):
    network = os.readlink("/proc/self/ns/net")
    alone = [name for _, name in socket.if_nameindex()] == ["lo"]
    record = {"url": target(input_), "network": network, "isolated": network != PARENT and alone}
    try:
        parts = urlsplit(record["url"])
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        host, port, record["dialled"] = None, 0, f"unparsable: {err}"
    record["host"] = host
    if host is None:
        record.setdefault("dialled", "no host")
    elif loopback(unquote(host)) or record["isolated"]:
        try:
            with socket.create_connection((unquote(host), port), timeout=3):
                record["dialled"] = "connected"
        except (OSError, UnicodeError) as err:
            record["dialled"] = f"{type(err).__name__}: {err}"
    else:
        record["dialled"] = "held back: not in a loopback-only namespace"
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    return {"error": f"dialled {host}: {record['dialled']}"}


if sys.argv[1:] == ["--persistent"]:
    for line in sys.stdin:
        case = json.loads(line)
        print(json.dumps({"id": case["id"], **dial(case["input"])}), flush=True)
else:
    print(json.dumps(dial(json.load(sys.stdin)["input"])))
    sys.exit(1)
"""


def _loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@pytest.fixture
def dialler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    script = tmp_path / "dialler.py"
    script.write_text(DIALLER)
    log = tmp_path / "dials.jsonl"
    monkeypatch.setenv("DIAL_LOG", str(log))
    monkeypatch.setenv("DIAL_PARENT_NETWORK", isolation.network_of_this_thread())
    yield f"{sys.executable} {script}", log


def _dials(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def off_machine_cases() -> list[Case]:
    return [c for c in load_cases(SUITE) if off_machine_addresses(c.kind, c.input)]


def loopback_cases(count: int) -> list[Case]:
    return [c for c in load_cases(SUITE) if c.kind == "rank" and not c.tags and not c.go_skip][
        :count
    ]


def needs_namespaces() -> None:
    why = isolation.unavailable()
    if why is not None:
        pytest.skip(f"no loopback-only network namespace here: {why}")


def _nothing_left(dials: list[dict[str, Any]], cases: list[Case]) -> None:
    """Every dial off loopback came from a loopback-only namespace, and reached nothing."""
    for record in dials:
        if not _loopback(record["host"]):
            assert record["isolated"], record
            assert record["dialled"] != "connected", record
            assert not record["dialled"].startswith("held back"), record
    # Each off-machine case ran, in the namespace: its dial is there.
    assert sum(record["isolated"] for record in dials) == len(cases)
    off = {dial_target(c) for c in cases} - {""}
    assert off <= {record["url"] for record in dials if record["isolated"]}


def dial_target(case: Case) -> str:
    """The base URL the dialler picks for ``case``, when the case gives it literally."""
    headers = [v for n, v in case.input.get("headers", []) if n.lower() == "x-nvidia-baseurl"]
    url = str(headers[0] if headers else dial_targets(case.kind, case.input)[0])
    return "" if "{{" in url else url


def test_the_issue_s_addresses_are_all_off_machine_cases() -> None:
    """The 26 addresses a non-refusing implementation dialled in a strict run, and more."""
    flagged = {a for c in off_machine_cases() for a in off_machine_addresses(c.kind, c.input)}
    listed = {
        "100.100.100.200", "0.0.0.1", "192.0.0.8", "192.0.2.1", "198.18.0.1", "240.0.0.1",
        "255.255.255.255", "239.255.255.250", "ff0e::1", "100::1", "fec0::1", "2001:db8::1",
        "64:ff9b::7f00:1", "2002:c0a8:101::1", "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "10.0.0.1", "0.0.0.0", "172.16.0.5", "192.168.1.1", "169.254.169.254", "224.0.0.251",
        "::", "fd00::1", "fe80::1", "::ffff:100.100.100.200", "localhost", "myhost.local",
        "svc.internal", "box.localdomain", "api.example.com", "files.example",
    }  # fmt: skip
    assert listed <= flagged


def test_every_other_case_names_only_loopback() -> None:
    # Read independently of the classifier: every URL-like text anywhere in the input of a
    # case left to run on the machine's network points at 127.0.0.1.
    for case in load_cases(SUITE):
        if off_machine_addresses(case.kind, case.input):
            assert OFF_MACHINE_TAG in case.tags, case.id
            continue
        assert OFF_MACHINE_TAG not in case.tags, case.id
        text = json.dumps(substitute(dict(case.input), "http://127.0.0.1:1", "127.0.0.1:2"))
        for url in re.findall(r"[a-z]+://[^\"/]*", text):
            if case.kind in ("rank", "rerank"):
                assert _loopback(unquote(urlsplit(url).hostname or "")), (case.id, url)


def test_off_machine_cases_run_only_in_a_loopback_only_namespace(
    dialler: tuple[str, Path],
) -> None:
    needs_namespaces()
    command, log = dialler
    cases = off_machine_cases()
    plain = loopback_cases(3)
    assert len(cases) >= 40
    results = run_suite([*plain, *cases], Subprocess(command, 20), CASSETTES, jobs=2)
    assert [r.status for r in results] == ["failed"] * len(results)  # the dialler refuses nothing
    dials = _dials(log)
    assert len(dials) == len(results)
    _nothing_left(dials, cases)
    # Where the dial could only be refused or unroutable, it was: nothing reached anything.
    unroutable = [d for d in dials if d["host"] == "100.100.100.200"]
    assert unroutable
    assert all("Network is unreachable" in d["dialled"] for d in unroutable), unroutable
    # The loopback cases kept the machine's network: the isolation is only where it is due.
    home = isolation.network_of_this_thread()
    assert {d["network"] for d in dials if not d["isolated"]} == {home}
    assert sum(not d["isolated"] for d in dials) == len(plain)


def test_persistent_adapters_of_the_namespace_are_its_own(dialler: tuple[str, Path]) -> None:
    needs_namespaces()
    command, log = dialler
    cases = off_machine_cases()[:6]
    plain = loopback_cases(2)
    with Persistent(f"{command} --persistent", 20) as persistent:
        results = run_suite([*plain, *cases, *plain], persistent, CASSETTES, jobs=1)
    assert all(r.status == "failed" for r in results)
    assert not any("_runner_problem" in (r.outcome or {}) for r in results), results
    dials = _dials(log)
    _nothing_left(dials, cases)
    home = isolation.network_of_this_thread()
    assert {d["network"] for d in dials if not d["isolated"]} == {home}
    assert sum(not d["isolated"] for d in dials) == 2 * len(plain)


def test_the_in_process_implementation_runs_them_in_the_namespace() -> None:
    needs_namespaces()
    seen: list[tuple[str, str]] = []

    def execute(kind: str, input_: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        # Where a thread this implementation starts would open its sockets.
        found: list[str] = []
        helper = threading.Thread(target=lambda: found.append(isolation.network_of_this_thread()))
        helper.start()
        helper.join()
        seen.append((str(input_.get("query")), found[0]))
        return {"error": "refused"}

    cases = off_machine_cases()[:3]
    plain = loopback_cases(1)
    run_suite([*plain, *cases], InProcess(execute), CASSETTES)
    home = isolation.network_of_this_thread()
    assert seen[0][1] == home
    assert all(network != home for _, network in seen[1:]), seen


def test_without_a_namespace_they_are_skipped_and_never_reach_the_adapter(
    dialler: tuple[str, Path],
) -> None:
    command, log = dialler
    cases = off_machine_cases()
    plain = loopback_cases(2)
    reported: list[CaseResult] = []
    results = run_suite(
        [*plain, *cases],
        Subprocess(command, 20),
        CASSETTES,
        jobs=2,
        isolation=lambda: "no namespaces in this test",
        on_result=reported.append,
    )
    skipped = results[len(plain) :]
    assert [r.status for r in skipped] == ["skipped"] * len(cases)
    assert all(r.skipped_for == "isolation" for r in skipped)
    assert skipped[0].problems[0].endswith("none can be made here: no namespaces in this test")
    assert [r.case.id for r in reported] == [c.id for c in [*plain, *cases]]
    dials = _dials(log)
    assert len(dials) == len(plain)
    assert all(_loopback(d["host"]) for d in dials)


def test_a_namespace_that_cannot_be_entered_skips_them(
    dialler: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe said yes, but the job's own attempt fails: skipped all the same, not run bare.
    command, log = dialler

    def refuse() -> str:
        raise isolation.IsolationError("unshare(CLONE_NEWNET) failed: refused in this test")

    from reranker_contracts import runner

    monkeypatch.setattr(runner, "enter_loopback_namespace", refuse)
    cases = off_machine_cases()[:4]
    results = run_suite(cases, Subprocess(command, 20), CASSETTES, isolation=lambda: None)
    assert [r.skipped_for for r in results] == ["isolation"] * len(cases)
    assert _dials(log) == []


def test_the_probe_gives_a_reason_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    isolation.forget_probe()
    monkeypatch.setattr(isolation.sys, "platform", "darwin")
    assert isolation.unavailable() == "network namespaces need Linux, not darwin"
    isolation.forget_probe()
    monkeypatch.undo()
    why = isolation.unavailable()
    assert why is None or why.startswith(("unshare(CLONE_NEWNET) failed", "cannot"))


def test_the_command_line_says_why_they_were_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from reranker_contracts import cli, runner

    monkeypatch.setattr(runner, "isolation_unavailable", lambda: "not Linux here")
    assert (
        cli.main(["run", "--impl", "/bin/false", "--cases", "base-url-validation/private-*"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "note: 3 case(s) skipped: they give the implementation addresses off this machine, and "
        "run only in a loopback-only network namespace, which cannot be made here (not Linux here)"
    )
    assert out[1].endswith(": 0 passed, 0 failed, 3 skipped")
