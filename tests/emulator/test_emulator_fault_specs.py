"""The fault grammar: parsing, canonical form, JSON form, and clean errors."""

from __future__ import annotations

from typing import Any

import pytest

from nim_emulator import FaultSpec, FaultSpecError


@pytest.mark.parametrize(
    ("spec", "expected", "canonical"),
    [
        (
            "status=503,count=2,retry-after=10",
            FaultSpec("status", count=2, status=503, retry_after=10),
            "status=503,retry-after=10,count=2",
        ),
        ("latency=200", FaultSpec("latency", latency_ms=200.0), "latency=200"),
        (
            "latency=12.5,jitter=3",
            FaultSpec("latency", latency_ms=12.5, jitter_ms=3.0),
            "latency=12.5,jitter=3",
        ),
        ("drop", FaultSpec("drop", mode="close"), "drop=close"),
        ("drop=reset", FaultSpec("drop", mode="reset"), "drop=reset"),
        ("drop-mid-body", FaultSpec("drop-mid-body"), "drop-mid-body"),
        ("malformed-json", FaultSpec("malformed-json"), "malformed-json"),
        ("indices=missing", FaultSpec("indices", mode="missing"), "indices=missing"),
        ("indices=out-of-range", FaultSpec("indices", mode="out-of-range"), "indices=out-of-range"),
        ("unsorted", FaultSpec("unsorted", mode="ascending"), "unsorted=ascending"),
        ("unsorted=shuffled", FaultSpec("unsorted", mode="shuffled"), "unsorted=shuffled"),
        ("slow-body=500", FaultSpec("slow-body", slow_body_ms=500.0), "slow-body=500"),
        ("accepted", FaultSpec("accepted", polls=0), "accepted=0"),
        ("accepted=2", FaultSpec("accepted", polls=2), "accepted=2"),
        (
            "deprecation=2026-12-01",
            FaultSpec("deprecation", deprecation="2026-12-01"),
            "deprecation=2026-12-01",
        ),
        (" COUNT=1 , Status=429 ", FaultSpec("status", count=1, status=429), "status=429,count=1"),
        (
            "status=503,path=/v1/health/*",
            FaultSpec("status", status=503, path="/v1/health/*"),
            "status=503,path=/v1/health/*",
        ),
    ],
)
def test_parse_and_canonical_form(spec: str, expected: FaultSpec, canonical: str) -> None:
    parsed = FaultSpec.parse(spec)
    assert parsed == expected
    assert parsed.to_spec() == canonical
    assert FaultSpec.parse(canonical) == parsed
    assert FaultSpec.from_json(parsed.to_dict()) == parsed
    assert FaultSpec.from_json({"spec": spec}) == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty fault spec"),
        ("boom", "unknown key 'boom'"),
        ("count=2", "names no fault"),
        ("drop,status=500", "names several faults (drop, status)"),
        ("status=200", "status must be a code from 400 to 599, not 200"),
        ("status=abc", "status must be a whole number, not 'abc'"),
        ("status", "status needs a value"),
        ("status=500,count=0", "count must be a whole number >= 1, not 0"),
        ("status=500,status=502", "status is given twice"),
        ("status=500,,count=1", "empty item"),
        ("latency=-5", "latency must be a number of milliseconds 0-3600000, not -5.0"),
        ("latency=fast", "latency must be a number of milliseconds, not 'fast'"),
        ("latency=nan", "latency must be a number of milliseconds 0-3600000, not nan"),
        ("latency=10,retry-after=1", "retry-after does not apply to the latency fault"),
        ("status=503,jitter=1", "jitter does not apply to the status fault"),
        ("status=503,retry-after=-1", "retry-after must be a whole number of seconds >= 0"),
        ("drop=now", "drop must be one of close | reset, not 'now'"),
        ("drop-mid-body=1", "drop-mid-body takes no value"),
        ("indices", "indices needs a value"),
        ("indices=twice", "indices must be one of missing | duplicate | out-of-range | negative"),
        ("unsorted=random", "unsorted must be one of ascending | index | shuffled"),
        ("slow-body=", "slow-body needs a value"),
        ("accepted=-1", "accepted takes a number of polls 0-1000, not -1"),
        ("deprecation=", "deprecation needs a value"),
        ("deprecation=\x01", "deprecation value must be printable ASCII"),
        ("status=500,path=", "path needs a value"),
    ],
)
def test_bad_specs_raise_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        FaultSpec.parse(spec)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a fault must be a JSON object, not list"),
        ({"spec": 3}, '"spec" must be a string'),
        ({"spec": "drop", "count": 1}, 'give either "spec" alone'),
        ({"kind": "status", "status": 500, "colour": "red"}, "unknown fault field 'colour'"),
        ({"status": 500}, 'a fault object needs "kind"'),
        ({"kind": "explode"}, "unknown fault 'explode'"),
        ({"kind": "status", "status": True}, "status must be a code from 400 to 599"),
        ({"kind": "latency", "latency_ms": "5"}, "latency must be a number of milliseconds"),
        ({"kind": "latency", "latency_ms": 5, "jitter_ms": True}, "jitter must be a number"),
        ({"kind": "status", "status": 500, "count": 1.5}, "count must be a whole number"),
        ({"kind": "status", "status": 500, "path": ""}, "path must be a non-empty glob"),
        ({"kind": "deprecation", "deprecation": "a,b"}, "without ','"),
        ({"kind": "accepted", "polls": "2"}, "accepted takes a number of polls"),
    ],
)
def test_bad_json_faults_raise_a_clear_error(data: Any, message: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        FaultSpec.from_json(data)
    assert message in str(info.value)


def test_default_scope_is_the_reranking_routes_and_path_is_a_glob() -> None:
    default = FaultSpec.parse("drop")
    scoped = FaultSpec.parse("drop,path=/v1/health/*")
    assert default.matches("/v1/ranking", reranking_route=True)
    assert not default.matches("/v1/models", reranking_route=False)
    assert scoped.matches("/v1/health/ready", reranking_route=False)
    assert not scoped.matches("/v1/ranking", reranking_route=True)


def test_fault_spec_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        FaultSpec.parse("nope=1")


def test_after_lets_requests_through_first() -> None:
    spec = FaultSpec.parse("drop,after=2,count=1")
    assert (spec.after, spec.count) == (2, 1)
    assert FaultSpec.parse(spec.to_spec()) == spec
    with pytest.raises(FaultSpecError, match="after must be a whole number"):
        FaultSpec.parse("drop,after=-1")
    with pytest.raises(FaultSpecError, match="after must be a whole number"):
        FaultSpec.parse("drop,after=x")
