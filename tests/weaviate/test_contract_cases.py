"""The suite's ``rerank-property`` cases, run through ``reranker_nvidia.weaviate.rerank``.

Each case's results are turned into weaviate-client v4 ``Object``s (and, in a
second run, into a GraphQL response), reranked with :func:`rerank`, turned
back into the case's shape and judged by the suite's own runner: the
requests the NIM received, and the order and scores of the results (or the
error). A case whose results cannot be written as v4 objects is skipped with
its reason; none is left out silently (the last test counts them).
"""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from weaviate.classes.query import Rerank
from weaviate.collections.classes.internal import MetadataReturn, Object

from reranker_contracts.runner import EmulatorUpstream, InProcess, emulator_upstream, run_case
from reranker_contracts.suite import Case, load_cases
from reranker_nvidia import ClassBasedModuleConfig, Client, Params, RerankerError
from reranker_nvidia.weaviate import PropertyNotReturnedWarning, rerank

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"
CASES = [case for case in load_cases(ROOT / "contracts") if case.id.startswith("rerank-property/")]

# ``_additional`` members a v4 object holds, and the metadata field each one is.
METADATA = {
    "distance": "distance",
    "certainty": "certainty",
    "score": "score",
    "explainScore": "explain_score",
    "isConsistent": "is_consistent",
}


class NotExpressibleError(Exception):
    """The case's results cannot be written as weaviate-client v4 objects."""


def v4_objects(results: list[Mapping[str, Any]]) -> list[Object[Any, Any]]:
    objects = []
    for i, item in enumerate(results):
        additional = dict(item.get("_additional") or {})
        metadata: dict[str, Any] = {}
        identifier = uuid.UUID(int=i + 1)
        for key, value in additional.items():
            if key == "id":
                try:
                    identifier = uuid.UUID(str(value))
                except ValueError:
                    raise NotExpressibleError(f"_additional.id {value!r} is not a UUID") from None
            elif key == "rerank":
                metadata["rerank_score"] = value[0]["score"]
            elif key in METADATA:
                metadata[METADATA[key]] = value
            else:
                raise NotExpressibleError(f"a v4 object has no metadata for _additional.{key}")
        objects.append(
            Object(
                uuid=identifier,
                metadata=MetadataReturn(**metadata),
                properties={k: v for k, v in item.items() if k != "_additional"},
                references=None,
                vector={},
                collection="Case",
            )
        )
    return objects


def case_results(
    ranked: list[Object[Any, Any]], results: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ranked objects in the case's shape, with the ``_additional`` members the input had."""
    by_uuid = {obj.uuid: item for obj, item in zip(v4_objects(results), results, strict=True)}
    out = []
    for obj in ranked:
        given = by_uuid[obj.uuid].get("_additional") or {}
        additional: dict[str, Any] = {}
        for key in given:
            if key == "id":
                additional["id"] = str(obj.uuid)
            elif key in METADATA:
                additional[key] = getattr(obj.metadata, METADATA[key])
        additional["rerank"] = [{"score": obj.metadata.rerank_score}]
        out.append({**obj.properties, "_additional": additional})
    return out


def rerank_argument(raw: Mapping[str, Any] | None) -> Rerank | Params | None:
    """weaviate-client's ``Rerank``; ``{}`` (no ``property`` at all) only the port's ``Params``."""
    if raw is None:
        return None
    if "property" not in raw:
        return Params(query=raw.get("query"))
    return Rerank(prop=raw["property"], query=raw.get("query"))


def keywords(input_: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings, headers and (for chunking cases) the client a case gives."""
    out: dict[str, Any] = {"headers": [tuple(pair) for pair in input_.get("headers", [])]}
    if "class" in input_:
        out["config"] = ClassBasedModuleConfig(input_["class"], "")
    else:
        out["config"] = dict(input_.get("settings", {}))
    if "max_documents" in input_ or "max_concurrency" in input_:
        out["nvidia_client"] = Client(
            environ.get("NVIDIA_APIKEY", ""),
            max_documents=int(input_.get("max_documents", 512)),
            max_concurrency=input_.get("max_concurrency"),
        )
    return out


def reranked(result: Any, input_: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    """``rerank(result, …)`` with the case's arguments; a given client is closed after."""
    arguments = keywords(input_, environ)
    nvidia_client = arguments.get("nvidia_client")
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        # A case may rank a property on purpose absent (its letter case differs): as Go, "".
        warnings.simplefilter("ignore", PropertyNotReturnedWarning)
        if nvidia_client is not None:
            stack.enter_context(nvidia_client)
        return rerank(result, rerank_argument(input_["params"]), **arguments)


def through_v4(kind: str, input_: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    assert kind == "rerank"
    results = list(input_["results"])
    try:
        ranked = reranked(v4_objects(results), input_, environ)
    except RerankerError as err:
        return {"error": str(err)}
    return {"results": case_results(ranked, results)}


def through_graphql(
    kind: str, input_: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, Any]:
    assert kind == "rerank"
    response = {"data": {"Get": {"Case": list(input_["results"])}}}
    try:
        ranked = reranked(response, input_, environ)
    except RerankerError as err:
        return {"error": str(err)}
    return {"results": ranked["data"]["Get"]["Case"]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmulatorUpstream]:
    with emulator_upstream() as running:
        yield running


# D-CLIENT-SIDE: where no result holds the property as text, Weaviate sends every document as ""
# and the helper, as the command line, refuses before sending. The module's own run of these
# cases (the contract suite) is unchanged; here each must be that refusal.
REFUSED_BY_THE_HELPER = {
    "rerank-property/property-name-is-case-sensitive": (
        "no search result has the property 'Description' (properties seen: description, title)"
    ),
}


def _holds_no_property_as_text(case: Case) -> bool:
    prop = (case.input.get("params") or {}).get("property")
    results = list(case.input.get("results") or [])
    return bool(prop) and bool(results) and not any(isinstance(r.get(prop), str) for r in results)


def _refused(case: Case, through: Any, upstream: EmulatorUpstream) -> None:
    """The helper refuses the case with the command line's text; nothing reaches the NIM."""
    result = run_case(case, InProcess(through, "weaviate-refusal"), upstream, CASSETTES)
    assert result.status == "failed"
    assert result.problems == [
        f"expected results, got the error: {REFUSED_BY_THE_HELPER[case.id]}",
        f"expected {len(case.expect['requests'])} request(s), the emulator received 0: ",
    ]


def _skip_reason(case: Case) -> str | None:
    try:
        v4_objects(list(case.input["results"]))
    except NotExpressibleError as err:
        return str(err)
    return None


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_case_through_v4_objects(case: Case, upstream: EmulatorUpstream) -> None:
    reason = _skip_reason(case)
    if reason is not None:
        pytest.skip(f"not expressible as v4 objects: {reason}")
    if case.id in REFUSED_BY_THE_HELPER:
        _refused(case, through_v4, upstream)
        return
    result = run_case(case, InProcess(through_v4, "weaviate-v4"), upstream, CASSETTES)
    assert result.status == "passed", "\n".join(result.problems)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_case_through_a_graphql_response(case: Case, upstream: EmulatorUpstream) -> None:
    if case.id in REFUSED_BY_THE_HELPER:
        _refused(case, through_graphql, upstream)
        return
    result = run_case(case, InProcess(through_graphql, "weaviate-graphql"), upstream, CASSETTES)
    assert result.status == "passed", "\n".join(result.problems)


def test_every_rerank_property_case_is_run_and_every_skip_has_its_reason() -> None:
    assert len(CASES) >= 20
    skipped = {case.id: _skip_reason(case) for case in CASES if _skip_reason(case) is not None}
    assert skipped == {}, skipped  # today every case can be written as v4 objects


def test_the_helper_refuses_exactly_the_cases_where_no_result_holds_the_property() -> None:
    assert {case.id for case in CASES if _holds_no_property_as_text(case)} == set(
        REFUSED_BY_THE_HELPER
    )
