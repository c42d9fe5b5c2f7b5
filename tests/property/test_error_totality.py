"""Property 5: every answer ends in a result or a RerankerError, never anything else.

Bodies are random bytes, random JSON, JSON shaped like a ranking or an error
answer (valid or slightly off), text and HTML; statuses span 100–599; headers
carry random content types, encodings, ``Location`` and ``nvcf-reqid``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import Phase, event, given, settings
from hypothesis import strategies as st

from reranker_nvidia import AsyncClient, Client
from reranker_nvidia.clients.ranker import (
    get_response_error,
    parse_rank_response,
    to_document_scores,
)
from reranker_nvidia.errors import (
    InvalidRankingsError,
    RedirectError,
    RerankerError,
    ResponseParseError,
    UpstreamError,
)
from tests.property._support import (
    PROPERTY,
    finite_floats,
    json_values,
    time_limit,
)

NON_200 = st.integers(min_value=100, max_value=599).filter(lambda s: s != 200)
# 200 and the statuses with their own rules come up often; any other one too.
STATUSES = st.one_of(
    st.just(200),
    st.sampled_from([202, 301, 302, 307, 402, 403, 422]),
    st.integers(min_value=100, max_value=599),
)

# --------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------

odd_json = st.one_of(json_values(8), st.sampled_from([float("nan"), float("inf"), -1e400]))


@st.composite
def ranking_documents(draw: st.DrawFn, passages: int) -> Any:
    """A 200 body for ``passages`` passages: often right, often off in one way."""
    order = list(draw(st.permutations(range(passages))))
    rankings: list[Any] = [
        {"index": i, "logit": draw(st.one_of(finite_floats, st.integers(-(10**6), 10**6)))}
        for i in order
    ]
    fault = draw(
        st.sampled_from(
            ["none", "none", "drop", "duplicate", "out_of_range", "bad_index", "bad_logit", "extra"]
        )
    )
    if fault == "drop" and rankings:
        rankings.pop(draw(st.integers(0, len(rankings) - 1)))
    elif fault == "duplicate" and rankings:
        rankings.append(dict(draw(st.sampled_from(rankings))))
    elif fault == "out_of_range":
        index = draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=passages)))
        rankings.append({"index": index, "logit": 1.0})
    elif fault == "bad_index" and rankings:
        rankings[0]["index"] = draw(odd_json)
    elif fault == "bad_logit" and rankings:
        rankings[0]["logit"] = draw(odd_json)
    elif fault == "extra" and rankings:
        rankings[0][draw(st.text(max_size=5))] = draw(json_values(4))
    document: dict[str, Any] = {"rankings": rankings}
    if draw(st.booleans()):
        document["usage"] = draw(json_values(4))
    return draw(st.sampled_from([document, {"rankings": None}, {}, rankings, document]))


error_documents = st.fixed_dictionaries(
    {},
    optional={
        "detail": st.one_of(
            st.text(max_size=20),
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"msg": st.one_of(st.text(max_size=8), odd_json)}
                ),
                max_size=3,
            ),
            odd_json,
        ),
        "message": st.one_of(st.text(max_size=20), odd_json),
        "title": st.text(max_size=10),
        "status": st.integers(100, 599),
    },
)


HUGE_NUMBER_TEMPLATES = [
    b"N",
    b'{"detail": N}',
    b'{"detail": [{"msg": N}]}',
    b'{"detail": [{"msg": "m"}, N]}',
    b'{"message": N}',
    b'{"status": N, "detail": "d"}',
    b'{"rankings": [{"index": N, "logit": 1.0}]}',
    b'{"rankings": [{"index": 0, "logit": N}]}',
    b'{"rankings": [{"index": 0, "logit": 1}], "usage": N}',
]


def encode_json(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw: st.DrawFn, passages: int = 3) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "ranking", "error", "text", "html", "huge"]))
    if kind == "huge":  # an integer past Python's 4 300-digit parsing limit, anywhere
        digits = b"9" * draw(st.integers(min_value=4301, max_value=6000))
        template = draw(st.sampled_from(HUGE_NUMBER_TEMPLATES))
        return template.replace(b"N", draw(st.sampled_from([digits, b"-" + digits])))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8")
    if kind == "html":
        words = draw(
            st.lists(
                st.sampled_from(
                    [
                        "<p>",
                        "</p>",
                        "<script>",
                        "</script>",
                        "&amp;",
                        "&#x41;",
                        "<b",
                        ">",
                        "<style>x</style>",
                        "err ",
                    ]
                ),
                max_size=12,
            )
        )
        return ("<html><body>" + "".join(words) + "</body></html>").encode()
    value = {
        "json": json_values(10),
        "ranking": ranking_documents(passages),
        "error": error_documents,
    }[kind]
    return encode_json(draw(value), draw(st.booleans()))


CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"application/problem+json",
            b"text/html; charset=utf-8",
            b"text/plain",
            b"",
            b"TEXT/HTML",
            b"application/json; charset=latin-1",
        ]
    ),
    st.binary(max_size=20).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00")),
)
HEADER_VALUES = st.binary(max_size=30).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00"))


@st.composite
def response_headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", draw(CONTENT_TYPES))]
    if draw(st.booleans()):
        encoding = st.sampled_from([b"gzip", b"deflate", b"br", b"zstd", b"identity", b"x-odd"])
        headers.append((b"content-encoding", draw(encoding)))
    for name in (b"location", b"nvcf-reqid", b"retry-after"):
        if draw(st.booleans()):
            headers.append((name, draw(HEADER_VALUES)))
    return headers


def check_outcome(outcome: object, documents: list[str]) -> None:
    """Either one float score per document, in order, or a RerankerError."""
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, RerankerError), repr(outcome)
        return
    scores = outcome.document_scores  # type: ignore[attr-defined]
    assert [s.document for s in scores] == documents
    assert all(type(s.score) is float for s in scores)


DOCS = ["alpha", "beta", "gamma"]


# 400 examples through the sync client: six body kinds × every status class ×
# header combinations (gzip/deflate/zstd bodies that do not decode included).
# Each example is under a millisecond; the 5 s alarm turns a hang into a failure.
@settings(PROPERTY, max_examples=400)
@given(STATUSES, bodies(), response_headers())
def test_client_ends_in_result_or_reranker_error(
    status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, headers=headers, content=body)
    )
    outcome: object
    with time_limit(5.0), Client("k", transport=transport) as client:
        try:
            outcome = client.rank("q", DOCS)
        except RerankerError as err:
            outcome = err
    event(f"outcome: {type(outcome).__name__}")
    check_outcome(outcome, DOCS)
    if status != 200:
        assert isinstance(outcome, RerankerError)


# 100 examples through AsyncClient (an event loop per example costs more): the
# same answers must end the same way.
@settings(PROPERTY, max_examples=100)
@given(STATUSES, bodies(), response_headers())
def test_async_client_ends_in_result_or_reranker_error(
    status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, headers=headers, content=body)
    )
    outcomes: list[object] = []

    async def main() -> None:
        async with AsyncClient("k", transport=transport) as client:
            try:
                outcomes.append(await client.rank("q", DOCS))
            except RerankerError as err:
                outcomes.append(err)

    with time_limit(5.0):
        anyio.run(main)
    check_outcome(outcomes[0], DOCS)


PREFIXES = (
    "connection to NVIDIA API failed with status: {status}",
    "failed to parse reranker error response (status {status}): ",
)


# 600 examples of the pure function (microseconds each): every non-200 status
# class with every body kind, headers as a plain dict of arbitrary text.
@settings(PROPERTY, max_examples=600)
@given(
    NON_200,
    bodies(),
    st.dictionaries(
        st.sampled_from(["content-type", "Content-Type", "location", "Location", "nvcf-reqid"]),
        st.text(max_size=20),
    ),
)
def test_get_response_error_always_returns_a_prefixed_reranker_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    err = get_response_error(status, body, headers)
    assert isinstance(err, RerankerError)
    message = str(err)
    assert message.startswith(tuple(p.format(status=status) for p in PREFIXES)), message
    if isinstance(err, UpstreamError):
        assert err.status == status
        assert message.startswith(PREFIXES[0].format(status=status))
        # The prefix is followed by nothing, or by " error: …" (never another number).
        rest = message.removeprefix(PREFIXES[0].format(status=status))
        assert rest == "" or rest.startswith(" error: ")
    if 300 <= status < 400:
        assert isinstance(err, RedirectError)


# 600 examples: ranking-shaped bodies for 0–6 passages, right or off in one way
# (dropped, duplicated, out-of-range, mistyped index or logit, extra members),
# and arbitrary bodies.
@settings(PROPERTY, max_examples=600)
@given(st.data())
def test_a_200_body_gives_one_score_per_document_or_a_parse_error(data: st.DataObject) -> None:
    passages = data.draw(st.integers(min_value=0, max_value=6))
    documents = [f"d{i}" for i in range(passages)]
    body = data.draw(bodies(passages))
    try:
        scores = to_document_scores(documents, parse_rank_response(200, body))
    except ResponseParseError as err:
        event(f"outcome: {type(err).__name__}")
        assert str(err).startswith("failed to parse reranker response (status 200): ")
        assert err.status == 200
        return
    event("outcome: scores")
    assert [s.document for s in scores] == documents
    # Each score is the logit the body gives that passage's index.
    by_index = {r["index"]: r["logit"] for r in (json.loads(body) or {}).get("rankings") or []}
    assert [s.score for s in scores] == [float(by_index[i]) for i in range(passages)]
    assert all(type(s.score) is float for s in scores)


# 300 examples: indices that are valid except for exactly one planted fault must
# be the typed InvalidRankingsError (not a generic parse error, not IndexError).
@settings(PROPERTY, max_examples=300)
@given(st.data())
def test_wrong_indices_are_invalid_rankings_errors(data: st.DataObject) -> None:
    passages = data.draw(st.integers(min_value=1, max_value=8))
    indices = list(data.draw(st.permutations(range(passages))))
    fault = data.draw(st.sampled_from(["drop", "duplicate", "out_of_range"]))
    if fault == "drop":
        indices.pop(data.draw(st.integers(0, passages - 1)))
    elif fault == "duplicate":
        indices.insert(data.draw(st.integers(0, passages)), data.draw(st.sampled_from(indices)))
    else:
        bad = data.draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=passages)))
        indices.insert(data.draw(st.integers(0, passages)), bad)
    body = json.dumps({"rankings": [{"index": i, "logit": 0.5} for i in indices]}).encode()
    with pytest.raises(
        InvalidRankingsError, match=r"^failed to parse reranker response \(status 200\): "
    ):
        to_document_scores([f"d{i}" for i in range(passages)], parse_rank_response(200, body))


# --------------------------------------------------------------------------
# Bugs these found, since fixed: each test below failed before the fix.
# --------------------------------------------------------------------------


def nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (opener * depth + "0" + closer * depth).encode()


# 30 examples, depths 1..20 000: the first deep body already fails today (the
# shrinker then walks down to the smallest failing depth, a few dozen calls).
@settings(PROPERTY, max_examples=30)
@given(
    st.integers(min_value=100, max_value=599),
    st.integers(min_value=1, max_value=20_000),
    st.sampled_from(["[", '{"a":']),
    st.booleans(),
)
def test_deeply_nested_json_ends_in_a_reranker_error(
    status: int, depth: int, opener: str, closed: bool
) -> None:
    body = nested(depth, opener) if closed else (opener * depth).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    with Client("k", transport=transport) as client, contextlib.suppress(RerankerError):
        client.rank("q", DOCS)


# 5 examples, no shrinking (a failing example costs the whole 1 s budget):
# HTML error pages of 128–256 KB must be summarised in linear time. A linear
# pass over 256 KB takes milliseconds; the tag regex is quadratic on unclosed
# <script/<style tags (32 KB ≈ 0.5 s, 256 KB ≈ 30 s, 1 MB ≈ 8 min).
@settings(PROPERTY, max_examples=5, phases=(Phase.generate,))
@given(
    st.sampled_from([400, 401, 404, 500, 502, 503]),
    st.integers(min_value=128, max_value=256),
    st.sampled_from(["<script ", "<style ", "<SCRIPT>"]),
)
def test_large_html_error_pages_are_summarised_quickly(
    status: int, kilobytes: int, tag: str
) -> None:
    body = (tag * (kilobytes * 1024 // len(tag))).encode()
    with time_limit(1.0):
        err = get_response_error(status, body, {"content-type": "text/html"})
    assert str(err).startswith(f"connection to NVIDIA API failed with status: {status}")
