"""Errors at the library's edges: bounded parses, typed argument errors, keys never shown.

Each test pins one sharp edge found by fault and input attacks: a rankings
array far longer than the passages, Ctrl-C during a sync call, a mistyped
setting or module name, a long upstream detail, redaction that masks inside
words or misses a copy, arguments of the wrong type, the timeout read from the
environment, keys that are not valid header values, and numbers Python's int
parser refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from reranker_nvidia import (
    AsyncClient,
    AsyncReRankerProvider,
    ClassBasedModuleConfig,
    Client,
    Params,
    ReRankerProvider,
    SearchResult,
)
from reranker_nvidia.errors import (
    ErrorResponseParseError,
    InvalidAPIKeyError,
    InvalidRankingsError,
    RerankerError,
    ResponseParseError,
    SettingsWarning,
    UpstreamError,
)
from tests.support.httptest import Handler, Request, TestServer, Writer

StartServer = Callable[[Handler], TestServer]
ROOT = Path(__file__).resolve().parents[2]


def lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda hexes: hexes.group().lower(), text)


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def answering(status: int, body: bytes | Any, headers: dict[str, str] | None = None) -> Client:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Client(
        "the-key",
        transport=mock(lambda _: httpx.Response(status, content=content, headers=headers or {})),
    )


def failure(client: Client, documents: Any = ("a", "b", "c"), key: str | None = None) -> Exception:
    headers = None if key is None else {"X-Nvidia-Api-Key": key}
    with client, pytest.raises(Exception) as caught:
        client.rank("q", documents, headers=headers)
    return caught.value


# --------------------------------------------------------------------------
# A rankings array longer than the passages is refused before it is built
# --------------------------------------------------------------------------


def test_more_rankings_than_passages_is_refused_before_building_them() -> None:
    body = json.dumps({"rankings": [{"index": i % 3, "logit": 0.5} for i in range(200_000)]})
    error = failure(answering(200, body.encode()))
    assert type(error) is InvalidRankingsError
    assert str(error) == (
        "failed to parse reranker response (status 200): "
        "200000 rankings for 3 passages, more than one per passage"
    )
    # Nothing the error holds is the parsed array: no thousands of objects kept alive.
    assert error.__context__ is None and error.__cause__ is None


# --------------------------------------------------------------------------
# Ctrl-C during Client.rank stops sending at once
# --------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a thread is POSIX")
def test_ctrl_c_stops_the_sync_client_without_sending_another_chunk(
    http_server: StartServer,
) -> None:
    started: list[float] = []
    lock = threading.Lock()

    def slow(request: Request, writer: Writer) -> None:
        with lock:
            started.append(time.monotonic())
        time.sleep(0.3)
        passages = len(request.json()["passages"])
        writer.respond(200, {"rankings": [{"index": i, "logit": 1.0} for i in range(passages)]})

    server = http_server(slow)
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url})
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    interrupted_at: list[float] = []

    def interrupt_at_chunk_8() -> None:
        while len(server.requests) < 8:
            time.sleep(0.01)
        interrupted_at.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_at_chunk_8, daemon=True)
    with Client("k", timeout=30, max_documents=1, max_concurrency=2) as client:
        interrupter.start()
        with pytest.raises(KeyboardInterrupt):
            client.rank("q", [f"d{i}" for i in range(40)], cfg)
        raised_at = time.monotonic()
        time.sleep(1.0)  # more than one server delay: anything still going would have arrived
    interrupter.join()
    # Promptly: the chunks in flight are not waited for (each takes 0.3 s).
    assert raised_at - interrupted_at[0] < 0.3 + 5
    # At most the two chunks in flight (one per worker) started after the interrupt.
    after = [t for t in started if t > interrupted_at[0]]
    assert len(after) <= 2, (len(started), len(after))
    assert len(started) <= 8 + 2


SCRIPT = """
import sys
from reranker_nvidia import ClassBasedModuleConfig, Client
cfg = ClassBasedModuleConfig.for_settings({"baseURL": sys.argv[1]})
client = Client("k", timeout=60, max_documents=1, max_concurrency=2)
print("ranking", flush=True)
client.rank("q", [f"d{i}" for i in range(10)], cfg)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_a_script_interrupted_in_client_rank_exits_without_waiting_for_the_chunks_in_flight(
    http_server: StartServer,
) -> None:
    in_flight = threading.Semaphore(0)

    def never(request: Request, writer: Writer) -> None:
        in_flight.release()
        writer.block()  # only the interrupt can end the call
        writer.answered = True

    server = http_server(never)
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ranking\n"
        for _ in range(2):  # both workers are waiting on the server
            assert in_flight.acquire(timeout=30)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)  # the timeout is 60 s: no waiting for it
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert stderr.rstrip().endswith(b"KeyboardInterrupt"), stderr[-300:]
    assert len(server.requests) == 2


# --------------------------------------------------------------------------
# Settings: unknown keys and a wrong module name warn; the module name is not typed
# --------------------------------------------------------------------------


def test_for_settings_needs_no_module_name() -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": "http://127.0.0.1:1"})
    assert cfg.class_by_module_name("reranker-nvidia") == {"baseURL": "http://127.0.0.1:1"}


def test_an_unknown_setting_warns_with_the_nearest_known_one() -> None:
    with pytest.warns(SettingsWarning) as caught:
        ClassBasedModuleConfig.for_settings({"baseUrl": "http://127.0.0.1:1"})
    (warning,) = caught
    assert str(warning.message) == (
        "reranker-nvidia does not read the setting 'baseUrl' (did you mean 'baseURL'?); "
        "it is ignored"
    )
    assert warning.filename == __file__  # it points at the caller's line


def test_a_wrong_module_name_warns_with_the_module_name() -> None:
    with pytest.warns(SettingsWarning, match=r"'reranker-nvidai'.*'reranker-nvidia'"):
        ClassBasedModuleConfig.for_settings("reranker-nvidai", {"baseURL": "http://x"})


def test_known_settings_under_the_module_name_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": "x", "model": "m"})
        ClassBasedModuleConfig.for_settings({"model": "m"})


# --------------------------------------------------------------------------
# A long upstream detail is cut, and names the document in the caller's input
# --------------------------------------------------------------------------


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
    client = Client("k", transport=mock(answer), max_concurrency=1)
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


# --------------------------------------------------------------------------
# Redaction: never inside a word, every copy
# --------------------------------------------------------------------------


def test_a_short_key_is_not_masked_inside_words() -> None:
    error = failure(answering(403, {"detail": "Unknown model"}), key="k")
    assert str(error) == "connection to NVIDIA API failed with status: 403 error: Unknown model"
    error = failure(answering(403, {"detail": "a bad request"}), key="a")
    assert str(error) == (
        "connection to NVIDIA API failed with status: 403 error: [redacted] bad request"
    )


KEY = "nvapi-Secret/Key+0123=="


@pytest.mark.parametrize(
    "echo",
    [KEY, quote(KEY, safe=""), quote_plus(KEY), quote(KEY), lower_hex(quote(KEY, safe=""))],
    ids=["raw", "url-encoded", "form-encoded", "path-encoded", "lower-hex"],
)
def test_every_copy_of_an_echoed_key_is_masked(echo: str) -> None:
    body = json.dumps({"detail": f"invalid key {echo}"}).encode()
    headers = {"Location": f"http://x/?key={echo}", "X-Echo": echo}
    for status in (403, 401, 302):
        error = failure(answering(status, body, headers), key=KEY)
        assert isinstance(error, UpstreamError)
        assert_key_nowhere(error, KEY)


def test_a_key_glued_to_a_word_is_masked_with_the_word() -> None:
    error = failure(answering(403, {"detail": f"tokens:abc{KEY} end"}), key=KEY)
    assert str(error).endswith("error: tokens:[redacted] end")


def test_a_200_body_echoing_the_key_is_not_kept_in_the_chain() -> None:
    error = failure(answering(200, f'{{"rankings": "{KEY}"}}'.encode()), key=KEY)
    assert isinstance(error, ResponseParseError)
    assert_key_nowhere(error, KEY)


def test_a_transport_error_chain_does_not_hold_the_request_headers() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    error = failure(Client("k", transport=mock(refuse)), key=KEY)
    assert isinstance(error, RerankerError)
    assert_key_nowhere(error, KEY)


# --------------------------------------------------------------------------
# A key that is not a valid header value is refused before any request
# --------------------------------------------------------------------------


BAD_KEYS = [
    ("nvapi-abcdef0123\n", "it ends with a line break"),
    ("nvapi-abcdef0123 ", "it ends with whitespace"),
    (" nvapi-abcdef0123", "it starts with whitespace"),
    ("nvapi-abc\r\ndef0123", "it holds a line break"),
    ("nvapi-abc\x00def0123", "it holds a NUL character"),
    ("nvapi-abc\x1bdef0123", "it holds a control character"),
    ("nvapi-abcdéf0123", "it holds a character that is not ASCII"),
]


@pytest.mark.parametrize(
    ("key", "why", "source"),
    [
        pytest.param(key, why, source, id=f"{source}-{why.replace(' ', '-')}")
        for key, why in BAD_KEYS
        for source in ("header", "environment", "argument")
        # An environment variable cannot hold NUL, so that key can only come the other ways.
        if not (source == "environment" and "\x00" in key)
    ],
)
def test_a_key_that_is_no_header_value_is_refused_unseen(
    key: str, why: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"rankings": [{"index": 0, "logit": 1.0}]})

    if source == "environment":
        monkeypatch.setenv("NVIDIA_APIKEY", key)
        client, headers = Client(transport=mock(record)), None
    elif source == "argument":
        client, headers = Client(key, transport=mock(record)), None
    else:
        client, headers = Client(transport=mock(record)), {"X-Nvidia-Api-Key": key}
    with client, pytest.raises(InvalidAPIKeyError) as caught:
        client.rank("q", ["a"], headers=headers)
    where = {
        "header": "X-Nvidia-Api-Key header",
        "environment": "NVIDIA_APIKEY",
        "argument": "the api_key argument",
    }[source]
    assert str(caught.value) == (
        f"Nvidia API Key: the key from {where} cannot be sent as a header value: {why}"
    )
    assert sent == []
    assert_key_nowhere(caught.value, key.strip())


# --------------------------------------------------------------------------
# Numbers Python's int parser refuses are typed errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 402, 403, 422, 500])
def test_an_integer_of_5000_digits_is_a_typed_error(status: int) -> None:
    body = b'{"detail": ' + b"7" * 5000 + b', "rankings": [{"index": ' + b"1" * 5000 + b"}]}"
    error = failure(answering(status, body))
    assert isinstance(error, RerankerError), repr(error)[:200]
    if status in (402, 403, 422):
        assert isinstance(error, ErrorResponseParseError)
    assert len(str(error)) < 300


# --------------------------------------------------------------------------
# Arguments of the wrong type are TypeErrors that name the argument
# --------------------------------------------------------------------------


def ok_client() -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        passages = json.loads(request.content)["passages"]
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": -i} for i in range(len(passages))]}
        )

    return Client("k", transport=mock(answer))


def test_a_dict_as_config_is_a_type_error_naming_cfg() -> None:
    with ok_client() as client, pytest.raises(TypeError, match=r"^cfg must be a ClassConfig"):
        client.rank("q", ["a"], {"baseURL": "http://x"})  # type: ignore[arg-type]


def test_a_generator_of_documents_is_accepted() -> None:
    with ok_client() as client:
        result = client.rank("q", (d for d in ["a", "b"]))
    assert [s.document for s in result.document_scores] == ["a", "b"]


def test_a_bare_string_as_documents_is_a_type_error() -> None:
    with ok_client() as client, pytest.raises(TypeError, match=r"^documents must be"):
        client.rank("q", "abc")


def test_a_document_that_is_not_a_string_is_a_type_error_naming_it() -> None:
    with ok_client() as client, pytest.raises(TypeError, match=r"^documents\[1\] must be a str"):
        client.rank("q", ["a", 2])  # type: ignore[list-item]


def test_the_sync_provider_with_an_async_client_names_the_async_method() -> None:
    client = AsyncClient("k", transport=httpx.MockTransport(lambda _: httpx.Response(500)))
    provider = ReRankerProvider(client)  # type: ignore[arg-type]
    results = [SearchResult(schema={"text": "a"})]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no "coroutine was never awaited"
        with pytest.raises(TypeError) as caught:
            provider.additional_property_fn(results, Params(property="text", query="q"))
    assert "AsyncReRankerProvider(client).additional_property_fn_async" in str(caught.value)
    assert AsyncReRankerProvider(client) is not None


def test_an_async_client_works_in_a_second_event_loop(http_server: StartServer) -> None:
    def ok(request: Request, writer: Writer) -> None:
        writer.respond(200, {"rankings": [{"index": 0, "logit": 1.0}]})

    server = http_server(ok)
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": server.url})
    client = AsyncClient("k", timeout=10)

    async def once() -> float:
        result = await client.rank("q", ["a"], cfg)
        return result.document_scores[0].score

    assert asyncio.run(once()) == 1.0
    # The first loop ended with its connection open; the pool that held it is dropped, which
    # Python reports as an unclosed socket (a ResourceWarning) when the pool is collected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        assert asyncio.run(once()) == 1.0
        gc.collect()

    async def close() -> None:
        await client.aclose()

    asyncio.run(once_then(once, close))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(close())  # in yet another loop: closing still works
        gc.collect()
    assert len(server.requests) == 3


async def once_then(*steps: Callable[[], Any]) -> None:
    for step in steps:
        await step()


# --------------------------------------------------------------------------
# MODULES_CLIENT_TIMEOUT is read when no timeout is given
# --------------------------------------------------------------------------


def test_no_timeout_reads_modules_client_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULES_CLIENT_TIMEOUT", "7s")
    assert Client("k").timeout == 7.0
    assert AsyncClient("k").timeout == 7.0
    assert Client("k", timeout=3).timeout == 3.0
    monkeypatch.delenv("MODULES_CLIENT_TIMEOUT")
    assert Client("k").timeout == 50.0


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def assert_key_nowhere(error: BaseException, key: str) -> None:
    """No text, byte string or header anywhere in ``error`` or its chain spells ``key``."""
    spellings = {key, quote(key, safe=""), quote_plus(key), quote(key)}
    spellings |= {lower_hex(quote(key, safe="")), lower_hex(quote_plus(key))}
    spellings |= {json.dumps(key)[1:-1], repr(key)[1:-1]}
    for text in texts_of(error):
        for spelling in spellings:
            assert spelling not in text, (spelling, text[:300])


def texts_of(root: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        value = stack.pop()
        if id(value) in seen or value is None:
            continue
        seen.add(id(value))
        if isinstance(value, str):
            yield value
        elif isinstance(value, bytes | bytearray):
            yield bytes(value).decode("latin-1")
        elif isinstance(value, int | float | bool):
            continue
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend(value)
        elif isinstance(value, httpx.Headers):
            stack.extend(v for _, v in value.raw)
        elif isinstance(value, httpx.Request):
            stack.extend([str(value.url), value.headers])
        elif isinstance(value, BaseException):
            yield str(value)
            yield repr(value)
            stack.extend([value.args, value.__cause__, value.__context__])
            stack.extend(getattr(value, "__dict__", {}).values())
            if isinstance(value, httpx.RequestError):
                with contextlib.suppress(RuntimeError):  # no request attached
                    stack.append(value.request)
            for name in ("object", "input", "body", "detail", "location"):
                stack.append(getattr(value, name, None))
            if hasattr(value, "errors") and callable(value.errors):
                with contextlib.suppress(Exception):  # not pydantic's errors()
                    stack.append(value.errors())
        else:
            yield repr(value)
