"""OpenTelemetry spans (D-EXT-TRACE): one per call, one per chunk, never the key.

The spans are read back with the SDK's in-memory exporter, on a tracer
provider set once for the process; each test starts with the exporter empty.
Calls go to the NIM emulator on 127.0.0.1, sync and async.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from nim_emulator import EmulatorConfig, FaultSpec, running_emulator
from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client, ConfigError, UpstreamError
from reranker_nvidia.cli.main import main
from reranker_nvidia.extensions.tracing import OTEL_MISSING

KEY = "nvapi-CANARY-7f3c9a1e5b2d4c6f8a0e"
"""A key that must appear in no exported attribute, event or status."""

QUERY = "When does the library open?"
DOCUMENTS = ["Cafeteria 8-8.", "Library opens 9.", "Gym 6-22."]
MODEL = "nvidia/rerank-qa-mistral-4b"

_EXPORTER: list[InMemorySpanExporter] = []


def _exporter() -> InMemorySpanExporter:
    """One in-memory exporter on the process's SDK tracer provider, set up once."""
    if not _EXPORTER:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            trace.set_tracer_provider(TracerProvider())
            provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider)
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        _EXPORTER.append(exporter)
    return _EXPORTER[0]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = _exporter()
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
def base_url() -> Iterator[str]:
    with running_emulator(EmulatorConfig(api_key=KEY)) as url:
        yield url


def settings(base: str, **more: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings({"baseURL": base, "model": MODEL, **more})


def rank_sync(base: str, documents: Sequence[str] = DOCUMENTS, **kwargs: Any) -> Any:
    with Client(KEY, max_documents=2, **kwargs) as client:
        return client.rank(QUERY, documents, settings(base))


def rank_async(base: str, documents: Sequence[str] = DOCUMENTS, **kwargs: Any) -> Any:
    async def main() -> Any:
        async with AsyncClient(KEY, max_documents=2, **kwargs) as client:
            return await client.rank(QUERY, documents, settings(base))

    return anyio.run(main)


RANKS = [pytest.param(rank_sync, id="sync"), pytest.param(rank_async, id="async")]


def split(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The call's span and its chunks' spans, by first index."""
    finished = exporter.get_finished_spans()
    calls = [s for s in finished if s.parent is None]
    assert len(calls) == 1, [s.name for s in finished]
    call = calls[0]
    chunks = [s for s in finished if s.parent is not None]
    for chunk in chunks:
        assert chunk.parent is not None
        assert chunk.parent.span_id == call.context.span_id
        assert chunk.context.trace_id == call.context.trace_id
    chunks.sort(key=lambda s: attrs(s)["reranker_nvidia.chunk.first_index"])
    return call, chunks


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def everything_exported(exporter: InMemorySpanExporter) -> str:
    """Every attribute, event and status of every span, as one text to search."""
    parts: list[Any] = []
    for span in exporter.get_finished_spans():
        parts.append([span.name, attrs(span), span.status.description])
        parts.extend([event.name, dict(event.attributes or {})] for event in span.events)
    return json.dumps(parts, default=str)


@pytest.mark.parametrize("rank", RANKS)
def test_a_call_is_one_span_and_each_chunk_a_child(
    rank: Any, spans: InMemorySpanExporter, base_url: str
) -> None:
    result = rank(base_url, trace="on")
    assert len(result.document_scores) == 3
    call, chunks = split(spans)
    port = int(base_url.rsplit(":", 1)[1])
    assert call.name == f"rerank {MODEL}"
    assert call.kind is trace.SpanKind.CLIENT
    assert call.status.status_code is StatusCode.OK
    assert attrs(call) == {
        "gen_ai.operation.name": "rerank",
        "gen_ai.provider.name": "nvidia",
        "gen_ai.request.model": MODEL,
        "gen_ai.rerank.candidate.count": 3,
        "server.address": "127.0.0.1",
        "server.port": port,
        "reranker_nvidia.reranked": True,
    }
    assert [c.name for c in chunks] == ["rerank chunk", "rerank chunk"]
    first, second = (attrs(c) for c in chunks)
    assert first["reranker_nvidia.chunk.first_index"] == 0
    assert first["reranker_nvidia.chunk.passages"] == 2
    assert second["reranker_nvidia.chunk.first_index"] == 2
    assert second["reranker_nvidia.chunk.passages"] == 1
    for chunk in (first, second):
        assert chunk["http.response.status_code"] == 200
        assert chunk["reranker_nvidia.chunk.requests"] == 1
        assert chunk["reranker_nvidia.chunk.route"] == "/v1/retrieval/nvidia/reranking"
        assert chunk["reranker_nvidia.endpoint"] == "retrieval"
        assert chunk["gen_ai.operation.name"] == "rerank"
        assert (chunk["server.address"], chunk["server.port"]) == ("127.0.0.1", port)
        assert "reranker_nvidia.chunk.retry_delays_s" not in chunk
        assert "reranker_nvidia.chunk.cache_hit" not in chunk  # no cache set
    assert all(c.status.status_code is StatusCode.OK for c in chunks)
    assert all(c.start_time >= call.start_time and c.end_time <= call.end_time for c in chunks)  # type: ignore[operator]


@pytest.mark.parametrize("rank", RANKS)
def test_a_retried_chunk_shows_its_attempts_and_the_pause(
    rank: Any, spans: InMemorySpanExporter
) -> None:
    busy = FaultSpec.parse("status=503,count=1,retry-after=0")  # the first request only
    with running_emulator(EmulatorConfig(api_key=KEY, faults=[busy])) as url:
        rank(url, ["one passage"], trace="on", retries=2)
    call, [chunk] = split(spans)
    assert call.status.status_code is StatusCode.OK
    chunk_attrs = attrs(chunk)
    assert chunk_attrs["reranker_nvidia.chunk.requests"] == 2
    assert chunk_attrs["reranker_nvidia.chunk.retry_delays_s"] == (0.0,)  # Retry-After: 0
    assert chunk_attrs["http.response.status_code"] == 200
    statuses = [dict(e.attributes or {}).get("http.response.status_code") for e in chunk.events]
    assert statuses == [503, 200]


@pytest.mark.parametrize("rank", RANKS)
def test_an_error_is_the_spans_status_in_one_line(rank: Any, spans: InMemorySpanExporter) -> None:
    down = FaultSpec.parse("status=503,count=10,retry-after=0")
    with (
        running_emulator(EmulatorConfig(api_key=KEY, faults=[down])) as url,
        pytest.raises(UpstreamError) as caught,
    ):
        rank(url, ["one passage"], trace="on", retries=1)
    call, [chunk] = split(spans)
    for span in (call, chunk):
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == str(caught.value)
        assert attrs(span)["error.type"] == "UpstreamError"
    assert attrs(chunk)["reranker_nvidia.chunk.requests"] == 2
    assert attrs(chunk)["http.response.status_code"] == 503
    assert "reranker_nvidia.reranked" not in attrs(call)


@pytest.mark.parametrize("rank", RANKS)
def test_failing_open_ends_the_call_span_in_error_and_not_reranked(
    rank: Any, spans: InMemorySpanExporter
) -> None:
    down = FaultSpec.parse("status=500,count=10")
    with running_emulator(EmulatorConfig(api_key=KEY, faults=[down])) as url:
        result = rank(url, ["one passage"], trace="on", on_error="input_order")
    assert result.reranked is False
    call, [chunk] = split(spans)
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description == str(result.error)
    assert attrs(call)["reranker_nvidia.reranked"] is False
    assert chunk.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("rank", RANKS)
def test_trace_on_shows_no_text_and_content_shows_it_without_the_key(
    rank: Any, spans: InMemorySpanExporter, base_url: str
) -> None:
    documents = ["Cafeteria 8-8.", f"Library opens 9, ask {KEY} at the desk."]
    rank(base_url, documents, trace="on")
    shown = everything_exported(spans)
    assert "Cafeteria" not in shown
    assert "library open" not in shown.lower()
    assert "CANARY" not in shown

    spans.clear()
    rank(base_url, documents, trace="content")
    shown = everything_exported(spans)
    call, [chunk] = split(spans)
    assert attrs(call)["reranker_nvidia.query"] == QUERY
    assert attrs(chunk)["reranker_nvidia.chunk.documents"] == (
        "Cafeteria 8-8.",
        "Library opens 9, ask [redacted] at the desk.",
    )
    assert len(attrs(call)["gen_ai.rerank.scores"]) == 2
    assert "CANARY" not in shown


@pytest.mark.parametrize("rank", RANKS)
def test_the_key_is_in_no_span_even_when_the_query_and_an_error_hold_it(
    rank: Any, spans: InMemorySpanExporter, base_url: str
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:  # a server that quotes the request
        return httpx.Response(422, json={"detail": request.headers["Authorization"]})

    async def main() -> None:
        async with AsyncClient(KEY, trace="content", transport=httpx.MockTransport(echo)) as c:
            await c.rank(f"{QUERY} {KEY}", DOCUMENTS, settings("http://nim.test"))

    with pytest.raises(UpstreamError):
        if rank is rank_sync:
            with Client(KEY, trace="content", transport=httpx.MockTransport(echo)) as client:
                client.rank(f"{QUERY} {KEY}", DOCUMENTS, settings("http://nim.test"))
        else:
            anyio.run(main)
    shown = everything_exported(spans)
    assert "CANARY" not in shown
    assert "[redacted]" in shown  # the query was shown, masked
    call, _ = split(spans)
    assert call.status.status_code is StatusCode.ERROR


def test_a_class_setting_turns_tracing_on(spans: InMemorySpanExporter, base_url: str) -> None:
    with Client(KEY) as client:
        client.rank(QUERY, DOCUMENTS, settings(base_url, trace="on"))
    call, chunks = split(spans)
    assert attrs(call)["gen_ai.rerank.candidate.count"] == 3
    assert len(chunks) == 1


def test_a_cancelled_async_call_ends_its_span(spans: InMemorySpanExporter) -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(60)
        raise AssertionError("not reached")

    async def main() -> None:
        async with AsyncClient(KEY, trace="on", transport=httpx.MockTransport(never)) as client:
            with anyio.move_on_after(0.2):
                await client.rank(QUERY, DOCUMENTS, settings("http://nim.test"))

    anyio.run(main)
    call, [chunk] = split(spans)
    for span in (call, chunk):
        assert span.status.status_code is StatusCode.ERROR
        assert span.end_time is not None
    assert attrs(call)["error.type"] == "CancelledError"


def test_ctrl_c_ends_the_call_span(spans: InMemorySpanExporter) -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    with (
        Client(KEY, trace="on", transport=httpx.MockTransport(interrupted)) as client,
        pytest.raises(KeyboardInterrupt),
    ):
        client.rank(QUERY, ["one passage"], settings("http://nim.test"))
    call, _ = split(spans)
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description == "KeyboardInterrupt"


def test_without_the_otel_package_a_traced_call_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import opentelemetry fails
    sent: list[httpx.Request] = []
    with (
        Client(KEY, trace="on", transport=httpx.MockTransport(sent.append)) as client,  # type: ignore[arg-type]
        pytest.raises(ConfigError) as caught,
    ):
        client.rank(QUERY, DOCUMENTS, settings("http://nim.test"))
    assert str(caught.value) == OTEL_MISSING
    assert "pip install 'reranker-nvidia[otel]'" in str(caught.value)
    assert sent == []  # refused before anything was sent


def test_with_trace_off_neither_the_module_nor_opentelemetry_is_imported() -> None:
    # A fresh interpreter: a call with an extension (so the plan runs), tracing off.
    script = textwrap.dedent(
        """
        import json, sys
        import httpx
        from reranker_nvidia import ClassBasedModuleConfig, Client

        def answer(request):
            n = len(json.loads(request.content)["passages"])
            return httpx.Response(200, json={"rankings": [{"index": i, "logit": i} for i in range(n)]})

        cfg = ClassBasedModuleConfig.for_settings({"baseURL": "http://nim.test"})
        with Client("k", usage=True, transport=httpx.MockTransport(answer)) as client:
            result = client.rank("q", ["a", "b"], cfg)
        assert result.usage.requests == 1
        loaded = [m for m in sys.modules if m.startswith("opentelemetry") or m.endswith("tracing")]
        print(json.dumps({"plan": "reranker_nvidia.extensions.plan" in sys.modules,
                          "loaded": loaded}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(done.stdout)
    assert seen == {"plan": True, "loaded": []}


def test_the_command_line_traces_into_the_provider_the_process_set_up(
    spans: InMemorySpanExporter, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI sets up no SDK of its own: under `opentelemetry-instrument` (or any code that sets
    # a tracer provider first) its spans go where that provider sends them.
    monkeypatch.setenv("NVIDIA_APIKEY", KEY)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(DOCUMENTS).encode())))
    out, err = io.StringIO(), io.StringIO()
    argv = ["rerank", "--query", QUERY, "--base-url", base_url, "--trace", "on"]
    assert main(argv, stdout=out, stderr=err) == 0, err.getvalue()
    call, [chunk] = split(spans)
    assert attrs(call)["gen_ai.rerank.candidate.count"] == 3
    assert attrs(chunk)["http.response.status_code"] == 200
    assert "CANARY" not in everything_exported(spans)
