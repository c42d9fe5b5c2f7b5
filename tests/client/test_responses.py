"""The client's answers: scores by index, and every error mapped to Go's text (ranker.go)."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from reranker_nvidia import ClassBasedModuleConfig, Client
from reranker_nvidia.errors import (
    DeadlineExceededError,
    DialRefusedError,
    ErrorResponseParseError,
    InvalidRankingsError,
    RedirectError,
    RerankerError,
    ResponseParseError,
    TransportError,
    UpstreamError,
)
from tests.support.httptest import Request, StartServer, Writer

PROBLEM = "application/problem+json"


def answer(status: int, body: bytes | str | Any, headers: dict[str, str] | None = None) -> Client:
    """A client whose every request gets this answer."""
    if isinstance(body, str):
        content = body.encode()
    elif isinstance(body, bytes):
        content = body
    else:
        content = json.dumps(body).encode()
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, content=content, headers=headers or {})
    )
    return Client("the-key", transport=transport)


def rank_error(client: Client, documents: list[str] | None = None) -> Exception:
    with client, pytest.raises(Exception) as caught:
        client.rank("q", documents or ["a", "b", "c"])
    return caught.value


def test_scores_are_placed_by_index_whatever_the_servers_order() -> None:
    body = {
        "rankings": [
            {"index": 2, "logit": 0.5},
            {"index": 0, "logit": -1},
            {"index": 1, "logit": 9},
        ]
    }
    with answer(200, body) as client:
        result = client.rank("q", ["a", "b", "c"])
    assert [(s.document, s.score) for s in result.document_scores] == [
        ("a", -1.0),
        ("b", 9.0),
        ("c", 0.5),
    ]


def test_the_real_hosted_capture_is_understood() -> None:
    # success/hosted_generic-reranking_rerank-qa-mistral-4b.response.json
    body = '{"rankings": [{"index": 1, "logit": -4.1015625}, {"index": 0, "logit": -12.28125}]}'
    with answer(200, body, {"content-type": "application/json"}) as client:
        result = client.rank("What are the library hours?", ["Cafeteria 8-8.", "Library 9-10."])
    assert [s.score for s in result.document_scores] == [-12.28125, -4.1015625]


def test_a_usage_object_is_ignored() -> None:
    body = {
        "rankings": [{"index": 0, "logit": 1.5}],
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
    with answer(200, body) as client:
        assert client.rank("q", ["a"]).document_scores[0].score == 1.5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"rankings": [{"index": 0, "logit": 1}, {"index": 7, "logit": 1}]},
            "ranking index 7 is out of range for 3 passages",
        ),
        (
            {"rankings": [{"index": 0, "logit": 1}, {"index": -1, "logit": 1}]},
            "ranking index -1 is out of range for 3 passages",
        ),
        (
            {
                "rankings": [
                    {"index": 1, "logit": 1},
                    {"index": 1, "logit": 2},
                    {"index": 0, "logit": 1},
                ]
            },
            "passage 1 is ranked more than once",
        ),
        (
            {"rankings": [{"index": 0, "logit": 1}, {"index": 2, "logit": 1}]},
            "passage 1 has no ranking (2 rankings for 3 passages)",
        ),
        ({"rankings": []}, "passage 0 has no ranking (0 rankings for 3 passages)"),
        ({}, "passage 0 has no ranking (0 rankings for 3 passages)"),
    ],
)
def test_indices_must_cover_each_passage_once(body: Any, message: str) -> None:
    err = rank_error(answer(200, body))
    assert isinstance(err, InvalidRankingsError)
    assert str(err) == f"failed to parse reranker response (status 200): {message}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "<html><body>Gateway</body></html>",
            "invalid character '<' looking for beginning of value",
        ),
        ("", "unexpected end of JSON input"),
        ('{"rankings": [{"index": 0, "lo', "unexpected end of JSON input"),
        ("null", "response: Input should be an object"),
        ("[]", "response: Input should be an object"),
        ('{"rankings": {"index": 0}}', "rankings: Input should be a valid array"),
        (
            '{"rankings": [{"index": "0", "logit": 1}]}',
            "rankings.0.index: Input should be a valid integer",
        ),
        (
            '{"rankings": [{"index": 1.0, "logit": 1}]}',
            "rankings.0.index: Input should be a valid integer",
        ),
        (
            '{"rankings": [{"index": 0, "logit": "1.5"}]}',
            "rankings.0.logit: Input should be a valid number",
        ),
        (
            '{"rankings": [{"index": 0, "logit": true}]}',
            "rankings.0.logit: Input should be a valid number",
        ),
        ('{"rankings": [{"index": 0}]}', "rankings.0.logit: Field required"),
        (
            '{"rankings": [{"index": 0, "logit": NaN}]}',
            "rankings.0.logit: Input should be a finite number",
        ),
        (
            '{"rankings": [{"index": 0, "logit": 1e999}]}',
            "rankings.0.logit: Input should be a finite number",
        ),
    ],
)
def test_a_200_body_of_the_wrong_shape_is_a_parse_error(body: str, reason: str) -> None:
    err = rank_error(answer(200, body), ["a"])
    assert type(err) is ResponseParseError
    assert str(err) == f"failed to parse reranker response (status 200): {reason}"


def test_more_rankings_than_passages_is_refused_before_building_them() -> None:
    body = json.dumps({"rankings": [{"index": i % 3, "logit": 0.5} for i in range(200_000)]})
    error = rank_error(answer(200, body.encode()))
    assert type(error) is InvalidRankingsError
    assert str(error) == (
        "failed to parse reranker response (status 200): "
        "200000 rankings for 3 passages, more than one per passage"
    )
    # Nothing the error holds is the parsed array: no thousands of objects kept alive.
    assert error.__context__ is None and error.__cause__ is None


# Status, body, content type -> the exact message. Bodies from contracts/captures where one exists.
ERRORS: list[tuple[str, int, str, str, str]] = [
    (
        "402 as Go expects it",
        402,
        '{"detail": "Cloud credits expired"}',
        "application/json",
        "connection to NVIDIA API failed with status: 402 error: Cloud credits expired",
    ),
    (
        "403 capture (errors/403_forbidden_integrate_oh-my-pi-499.json)",
        403,
        '{"status":403,"title":"Forbidden","detail":"Authorization failed"}',
        PROBLEM,
        "connection to NVIDIA API failed with status: 403 error: Authorization failed",
    ),
    (
        "403 without detail keeps Go's empty text",
        403,
        '{"status":403,"title":"Forbidden"}',
        PROBLEM,
        "connection to NVIDIA API failed with status: 403 error: ",
    ),
    (
        "403 HTML page",
        403,
        "<html><title>Forbidden</title></html>",
        "text/html",
        "failed to parse reranker error response (status 403): "
        "invalid character '<' looking for beginning of value",
    ),
    (
        "403 detail of the wrong type",
        403,
        '{"detail": 42}',
        "application/json",
        "failed to parse reranker error response (status 403): "
        "json: cannot unmarshal number into detail",
    ),
    (
        "422 FastAPI list: every msg joined (Go repeats the first)",
        422,
        '{"detail": [{"loc": ["body"], "msg": "first"}, {"msg": "second"}]}',
        "application/json",
        "connection to NVIDIA API failed with status: 422 error: first second",
    ),
    (
        "422 string detail, NVIDIA's real shape (Go fails to parse it)",
        422,
        json.dumps(
            {
                "type": "urn:inference-service:problem-details:unprocessable-entity",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "body -> n\n  Extra inputs are not permitted (type=extra_forbidden)",
            }
        ),
        PROBLEM,
        "connection to NVIDIA API failed with status: 422 error: "
        "body -> n\n  Extra inputs are not permitted (type=extra_forbidden)",
    ),
    (
        "422 self-hosted token overflow carries message, not detail",
        422,
        '{"object":"error","message":"Input length 12007 exceeds maximum allowed token size 8192"}',
        "application/json",
        "connection to NVIDIA API failed with status: 422 error: "
        "Input length 12007 exceeds maximum allowed token size 8192",
    ),
    (
        "422 list of strings is not Go's shape",
        422,
        '{"detail": ["a", "b"]}',
        "application/json",
        "failed to parse reranker error response (status 422): json: detail must be a list of objects",
    ),
    (
        "401 text/plain (errors/401_missing_auth_header_plain-text.txt)",
        401,
        "Header of type `authorization` was missing",
        "text/plain; charset=utf-8",
        "connection to NVIDIA API failed with status: 401 error: Header of type `authorization` was missing",
    ),
    (
        "404 function not found (errors/404_function_not_found_integrate_freellmapi-634.json)",
        404,
        '{"status":404,"title":"Not Found","detail":"Function \'23d4f03a-b8a6-4adb-a183-7daa083a09cc\': '
        "Not found for account 'BDnmPUMI2eN_Liw2_IXfJp7nqD5E9hQct4hsGq-Wz1U'\"}",
        PROBLEM,
        "connection to NVIDIA API failed with status: 404 error: Function "
        "'23d4f03a-b8a6-4adb-a183-7daa083a09cc': Not found for account "
        "'BDnmPUMI2eN_Liw2_IXfJp7nqD5E9hQct4hsGq-Wz1U'",
    ),
    (
        "404 unknown path (errors/404_unknown_path.body.txt)",
        404,
        "404 page not found\n",
        "text/plain; charset=utf-8",
        "connection to NVIDIA API failed with status: 404 error: 404 page not found",
    ),
    (
        "410 gone (errors/410_gone_integrate_models.dev-3000.http)",
        410,
        '{"type":"about:blank","title":"Gone","status":410,"detail":"The model \'z-ai/glm-5.1\' has '
        'reached its end of life on 2026-07-02T00:00:00Z and is no longer available."}',
        PROBLEM,
        "connection to NVIDIA API failed with status: 410 error: The model 'z-ai/glm-5.1' has "
        "reached its end of life on 2026-07-02T00:00:00Z and is no longer available.",
    ),
    (
        "429 without detail keeps Go's text (errors/429_too_many_requests_integrate_free-claude-code-690.json)",
        429,
        '{"status":429,"title":"Too Many Requests"}',
        "application/json",
        "connection to NVIDIA API failed with status: 429",
    ),
    (
        "502 with a string detail",
        502,
        '{"type":"about:blank","title":"Bad Gateway","status":502,"detail":"Upstream request failed."}',
        PROBLEM,
        "connection to NVIDIA API failed with status: 502 error: Upstream request failed.",
    ),
    (
        "503 HTML page is reduced to its words",
        503,
        "<html><head><title>503 Service Unavailable</title><style>b{}</style></head>"
        "<body><h1>Service  Unavailable</h1></body></html>",
        "text/html",
        "connection to NVIDIA API failed with status: 503 error: "
        "503 Service Unavailable Service Unavailable",
    ),
    (
        "500 with an empty body keeps Go's text",
        500,
        "",
        "text/plain",
        "connection to NVIDIA API failed with status: 500",
    ),
]


@pytest.mark.parametrize(
    ("name", "status", "body", "content_type", "message"), ERRORS, ids=[e[0] for e in ERRORS]
)
def test_error_answers_map_to_gos_text(
    name: str, status: int, body: str, content_type: str, message: str
) -> None:
    del name
    err = rank_error(answer(status, body, {"content-type": content_type}))
    assert str(err) == message
    if message.startswith("failed to parse"):
        assert isinstance(err, ErrorResponseParseError)
    else:
        assert isinstance(err, UpstreamError)
        assert err.status == status


def test_a_long_text_body_is_cut_to_one_short_line() -> None:
    err = rank_error(answer(500, "word " * 100, {"content-type": "text/plain"}))
    text = str(err).removeprefix("connection to NVIDIA API failed with status: 500 error: ")
    assert len(text) == 200
    assert text.endswith("…")


def test_a_long_detail_is_cut_and_names_the_callers_document() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        passages = json.loads(request.content)["passages"]
        detail = [
            {
                "type": "string_too_short",
                "loc": ["body", "passages", i, "text"],
                "msg": "String should have at least 1 character",
                "input": "",
            }
            for i, passage in enumerate(passages)
            if passage["text"] == ""
        ]
        if not detail:
            rankings = [{"index": i, "logit": 1.0} for i in range(len(passages))]
            return httpx.Response(200, json={"rankings": rankings})
        return httpx.Response(422, json={"detail": detail * (512 // len(detail))})

    documents = ["x"] * 512 + [""] + ["x"] * 511  # the empty one is the second chunk's first
    client = Client("k", transport=httpx.MockTransport(answer), max_concurrency=1)
    with client, pytest.raises(UpstreamError) as caught:
        client.rank("q", documents)
    message = str(caught.value)
    assert message.startswith(
        "connection to NVIDIA API failed with status: 422 error: "
        "String should have at least 1 character (document 512)"
    )
    assert len(message) < 600
    assert message.endswith(" … (511 more)"), message[-80:]
    assert caught.value.detail is not None and caught.value.detail in message


def nvidia_string_detail(status: int) -> httpx.MockTransport:
    """NVIDIA's answer to an empty passage: a string ``detail`` naming it in the request."""

    def answer(request: httpx.Request) -> httpx.Response:
        passages = json.loads(request.content)["passages"]
        empty = [i for i, passage in enumerate(passages) if passage["text"] == ""]
        if not empty:
            rankings = [{"index": i, "logit": 1.0} for i in range(len(passages))]
            return httpx.Response(200, json={"rankings": rankings})
        detail = "\n".join(
            f"body -> passages -> {i} -> text\n  ensure this value has at least 1 characters"
            for i in empty
        )
        return httpx.Response(status, json={"status": status, "detail": detail})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize("status", [422, 400, 403])
def test_a_string_detail_naming_a_passage_names_the_callers_document(status: int) -> None:
    """Document 600 is passage 88 of the second chunk; NIM names passage 88."""
    documents = ["x"] * 600 + [""] + ["x"] * 10
    client = Client("k", transport=nvidia_string_detail(status), max_concurrency=1)
    with client, pytest.raises(UpstreamError) as caught:
        client.rank("q", documents)
    assert str(caught.value) == (
        f"connection to NVIDIA API failed with status: {status} error: "
        "body -> passages -> 88 -> text\n  ensure this value has at least 1 characters "
        "(document 600)"
    )
    assert caught.value.detail is not None and caught.value.detail.endswith("(document 600)")


def test_a_string_detail_naming_two_passages_names_both_documents() -> None:
    documents = ["x"] * 515 + ["", "x", ""]
    client = Client("k", transport=nvidia_string_detail(422), max_concurrency=1)
    with client, pytest.raises(UpstreamError) as caught:
        client.rank("q", documents)
    assert str(caught.value).endswith("at least 1 characters (documents 515, 517)")


@pytest.mark.parametrize("status", [200, 402, 403, 422, 500])
def test_an_integer_of_5000_digits_is_a_typed_error(status: int) -> None:
    body = b'{"detail": ' + b"7" * 5000 + b', "rankings": [{"index": ' + b"1" * 5000 + b"}]}"
    error = rank_error(answer(status, body))
    assert isinstance(error, RerankerError), repr(error)[:200]
    if status in (402, 403, 422):
        assert isinstance(error, ErrorResponseParseError)
    assert len(str(error)) < 300


def test_an_unfinished_nvcf_request_says_so() -> None:
    err = rank_error(answer(202, b"", {"nvcf-reqid": "abc-123", "nvcf-status": "in-progress"}))
    assert str(err) == (
        "connection to NVIDIA API failed with status: 202 error: NVCF accepted the request "
        "(nvcf-reqid abc-123) but did not finish it; polling is not supported"
    )


def test_the_api_key_never_appears_in_an_error_even_when_the_server_echoes_it() -> None:
    err = rank_error(answer(401, '{"detail": "bad token Bearer the-key"}'))
    assert "the-key" not in str(err)
    assert (
        str(err)
        == "connection to NVIDIA API failed with status: 401 error: bad token Bearer [redacted]"
    )


def test_redirects_are_not_followed(http_server: StartServer) -> None:
    server = http_server(
        lambda request, w: w.respond(307, b"", {"Location": "https://elsewhere.example/v1"})
    )
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k") as client, pytest.raises(RedirectError) as caught:
        client.rank("q", ["a"], cfg)
    assert str(caught.value) == (
        "connection to NVIDIA API failed with status: 307 error: "
        "redirect to https://elsewhere.example/v1 not followed"
    )
    assert caught.value.location == "https://elsewhere.example/v1"
    assert len(server.requests) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_gos_dial_error() -> None:
    port = free_port()
    cfg = ClassBasedModuleConfig.for_settings(
        "reranker-nvidia", {"baseURL": f"http://127.0.0.1:{port}"}
    )
    with Client("k") as client, pytest.raises(TransportError) as caught:
        client.rank("q", ["a"], cfg)
    assert str(caught.value) == (
        f'send POST request: Post "http://127.0.0.1:{port}/v1/retrieval/nvidia/reranking": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


def test_a_password_in_the_base_url_is_masked_as_go_does() -> None:
    port = free_port()
    base = f"http://user:hunter2@127.0.0.1:{port}"
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": base})
    with Client("k") as client, pytest.raises(TransportError) as caught:
        client.rank("q", ["a"], cfg)
    assert "hunter2" not in str(caught.value)
    assert f'Post "http://user:***@127.0.0.1:{port}/v1/' in str(caught.value)


def test_a_slow_server_hits_the_deadline(http_server: StartServer) -> None:
    server = http_server(lambda request, w: w.block())
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k", 0.2) as client, pytest.raises(DeadlineExceededError) as caught:
        client.rank("q", ["a"], cfg)
    assert str(caught.value) == (
        f'send POST request: Post "{server.url}/v1/retrieval/nvidia/reranking": '
        "context deadline exceeded"
    )
    assert isinstance(caught.value, TimeoutError)


def test_a_slow_body_hits_the_same_deadline(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        w.write_head(200, {"Content-Length": "100", "Content-Type": "application/json"})
        w.write(b'{"rankings": [')
        w.flush()
        w.block()

    server = http_server(handler)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k", 0.2) as client, pytest.raises(DeadlineExceededError) as caught:
        client.rank("q", ["a"], cfg)
    assert str(caught.value) == "read response body: context deadline exceeded"


def test_a_body_cut_short_is_an_unexpected_eof(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        w.write_head(200, {"Content-Length": "100"})
        w.write(b'{"rankings": [')
        w.flush()
        w.drop()

    server = http_server(handler)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k") as client, pytest.raises(TransportError) as caught:
        client.rank("q", ["a"], cfg)
    assert str(caught.value) == "read response body: unexpected EOF"


def test_the_dial_guard_refuses_internal_addresses(
    http_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
    server = http_server(lambda request, w: w.respond(200, {"rankings": []}))
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    # The class base URL is not validated (as in Go); the guard still refuses to dial it.
    with Client("k") as client, pytest.raises(DialRefusedError) as caught:
        client.rank("q", ["a"], cfg)
    host_port = server.url.removeprefix("http://")
    assert str(caught.value) == (
        f'send POST request: Post "{server.url}/v1/retrieval/nvidia/reranking": '
        f'dial tcp {host_port}: refusing to dial internal address "{host_port}"'
    )
    assert server.requests == []


def test_a_failing_chunk_fails_the_call_and_later_chunks_are_not_sent(
    http_server: StartServer,
) -> None:
    def handler(request: Request, w: Writer) -> None:
        passages = request.json()["passages"]
        if passages[0]["text"] == "b":
            w.respond(503, {"detail": "overloaded"})
            return
        w.respond(200, {"rankings": [{"index": i, "logit": 0.0} for i in range(len(passages))]})

    server = http_server(handler)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with (
        Client("k", max_documents=1, max_concurrency=1) as client,
        pytest.raises(UpstreamError) as caught,
    ):
        client.rank("q", ["a", "b", "c", "d"], cfg)
    assert str(caught.value) == "connection to NVIDIA API failed with status: 503 error: overloaded"
    assert [r.json()["passages"][0]["text"] for r in server.requests] == ["a", "b"]


def test_a_failing_chunk_fails_the_concurrent_call_too(http_server: StartServer) -> None:
    def handler(request: Request, w: Writer) -> None:
        passages = request.json()["passages"]
        if passages[0]["text"] == "c":
            w.respond(500, b"")
            return
        w.respond(200, {"rankings": [{"index": i, "logit": 0.0} for i in range(len(passages))]})

    server = http_server(handler)
    cfg = ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": server.url})
    with Client("k", max_documents=1, max_concurrency=4) as client, pytest.raises(UpstreamError):
        client.rank("q", ["a", "b", "c", "d", "e", "f"], cfg)


def test_a_string_detail_naming_many_passages_names_ten_and_counts_them() -> None:
    documents = [""] * 30
    client = Client("k", transport=nvidia_string_detail(422), max_concurrency=1)
    with client, pytest.raises(UpstreamError) as caught:
        client.rank("q", documents)
    assert str(caught.value).endswith("(documents 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … (30 in all))")
