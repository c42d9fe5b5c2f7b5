"""The wire structs read a body as the pydantic models they replaced did.

ranker.py's structs (and the dialects' shapes) are plain classes that pydantic
validates on first need (``clients/_wire.py``). Each is compared here with the
``BaseModel`` it was, written out below: the same values, or errors at the same
locations with the same inputs (and, for a JSON body, the same messages), and
the same JSON Schema, for the bodies the contract suite uses and for any JSON
value hypothesis makes up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from reranker_nvidia.clients import ranker


class RankRequest(BaseModel):
    """The body of ``POST /v1/retrieval/nvidia/reranking``."""

    model_config = ConfigDict(extra="forbid")

    model: str
    query: Text
    passages: list[Text]
    truncate: str | None = Field(default=None, description="Declared by Go, never sent.")


class Text(BaseModel):
    """``{"text": …}``: the query, or one passage."""

    model_config = ConfigDict(extra="forbid")

    text: str


class RankResponse(BaseModel):
    """The 200 body. Extra members (``usage``) are ignored, as in Go."""

    rankings: list[Ranking] | None = None


class Ranking(BaseModel):
    """One passage's score: its position in the request and the raw logit."""

    index: StrictInt
    logit: Annotated[StrictFloat, Field(allow_inf_nan=False)]


class ResponseError402(BaseModel):
    """The 402/403 body Go expects: ``{"detail": "…"}``."""

    detail: str | None = None


class ResponseError422(BaseModel):
    """The 422 body Go expects: ``{"detail": [{"msg": "…"}, …]}``."""

    detail: list[ErrorDetail] | None = None


class ErrorDetail(BaseModel):
    """One entry of a FastAPI-style 422 ``detail`` list."""

    msg: str | None = None


class ProblemDetails(BaseModel):
    """NVIDIA's hosted error body (RFC 7807): ``detail`` is a string (D-DETAIL-STRING)."""

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    requestId: str | None = None  # noqa: N815 - the wire name


class NimError(BaseModel):
    """A self-hosted NIM's error body: ``{"object": "error", "message": …}`` (D-DETAIL-MESSAGE)."""

    object: str = "error"
    message: str


RankRequest.model_rebuild()
RankResponse.model_rebuild()
ResponseError422.model_rebuild()

PAIRS: list[tuple[Any, type[BaseModel]]] = [
    (ranker.RankRequest, RankRequest),
    (ranker.RankResponse, RankResponse),
    (ranker.ResponseError402, ResponseError402),
    (ranker.ResponseError422, ResponseError422),
    (ranker.ProblemDetails, ProblemDetails),
    (ranker.NimError, NimError),
]
ERROR_SHAPES = [
    pair for pair in PAIRS if pair[1] is not RankRequest and pair[1] is not RankResponse
]


def outcome(read: Any, *, json_mode: bool) -> Any:
    """The values read, or each error's location, input and (for JSON) message."""
    try:
        value = read()
    except ValidationError as err:
        return [
            (e["loc"], repr(e.get("input")), e["msg"] if json_mode else None) for e in err.errors()
        ]
    return json.loads(json.dumps(value, default=lambda v: v.__dict__))


@pytest.mark.parametrize(("plain", "model"), PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_the_json_schema_is_the_models(plain: Any, model: type[BaseModel]) -> None:
    assert plain.model_json_schema() == model.model_json_schema()


RANK_BODIES = [
    b'{"rankings": [{"index": 0, "logit": 1.5}, {"index": 1, "logit": -2.0}], "usage": {}}',
    b'{"rankings": null}',
    b"{}",
    b"[]",
    b"null",
    b'"text"',
    b'{"rankings": 1}',
    b'{"rankings": [1, null, []]}',
    b'{"rankings": [{}]}',
    b'{"rankings": [{"index": 0, "logit": 1}]}',
    b'{"rankings": [{"index": 1.0, "logit": 1.5}]}',
    b'{"rankings": [{"index": "0", "logit": "1.5"}]}',
    b'{"rankings": [{"index": true, "logit": false}]}',
    b'{"rankings": [{"index": 0, "logit": NaN}]}',
    b'{"rankings": [{"index": 0, "logit": -Infinity}]}',
    b'{"rankings": [{"index": 0, "logit": 1e400}]}',
    b'{"rankings": [{"index": 123456789012345678901234567890, "logit": 0.5}]}',
    b'{"rankings": [{"index": 0, "logit": 1.5}',
    b"\xff\xfe",
    b"",
]


@pytest.mark.parametrize("body", RANK_BODIES)
def test_a_200_body_reads_as_the_model_read_it(body: bytes) -> None:
    plain = outcome(lambda: ranker.RankResponse.model_validate_json(body), json_mode=True)
    model = outcome(lambda: RankResponse.model_validate_json(body), json_mode=True)
    assert plain == model


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["detail", "msg", "message", "object", "status", "loc", "x"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(value=JSON)
def test_an_error_body_reads_as_the_models_read_it(value: Any) -> None:
    for plain, model in ERROR_SHAPES:
        got = outcome(lambda p=plain: p.model_validate(value), json_mode=False)
        assert got == outcome(lambda m=model: m.model_validate(value), json_mode=False)


@settings(max_examples=150, deadline=None)
@given(rankings=st.lists(st.fixed_dictionaries({"index": JSON, "logit": JSON}), max_size=3))
def test_any_rankings_read_as_the_model_read_them(rankings: list[Any]) -> None:
    body = json.dumps({"rankings": rankings}).encode()
    plain = outcome(lambda: ranker.RankResponse.model_validate_json(body), json_mode=True)
    assert plain == outcome(lambda: RankResponse.model_validate_json(body), json_mode=True)


def test_a_struct_is_built_and_shown_as_the_model_was() -> None:
    assert ranker.Ranking(index=1, logit=0.5) == ranker.Ranking.model_construct(index=1, logit=0.5)
    assert repr(ranker.Ranking(index=1, logit=0.5)) == repr(Ranking(index=1, logit=0.5))
    assert ranker.NimError(message="m").object == "error"
    with pytest.raises(TypeError):
        ranker.Ranking(1, 0.5)  # type: ignore[misc] # keyword-only, as a model's fields are


FIRST_USE = """
import dataclasses, sys, threading
from reranker_nvidia.clients import ranker
assert not dataclasses.is_dataclass(ranker.Ranking)  # made one on first use, not at import
{first}
assert all(dataclasses.is_dataclass(s) for s in (ranker.Ranking, ranker.RankResponse, ranker.NimError))
for bad in ({{"index": 1}}, {{"index": 1, "logit": 0.5, "rank": 2}}):
    try:
        ranker.Ranking(**bad)
    except TypeError:
        pass
    else:
        raise AssertionError(bad)
print(repr(ranker.Ranking(index=1, logit=0.5)))
"""


@pytest.mark.parametrize(
    "first",
    [
        pytest.param("ranker.Ranking(index=0, logit=0.0)", id="an-instance"),
        pytest.param(
            "threads = [threading.Thread(target=ranker.Text, kwargs={'text': 'x'}) for _ in range(8)]\n"
            "for t in threads: t.start()\n"
            "for t in threads: t.join()",
            id="instances-on-threads",
        ),
        pytest.param(
            "assert ranker.RankResponse.model_validate_json(b'{\"rankings\": null}').rankings is None",
            id="a-validation",
        ),
    ],
)
def test_a_struct_is_the_same_whichever_use_comes_first(first: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_USE.format(first=first)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Ranking(index=1, logit=0.5)"
