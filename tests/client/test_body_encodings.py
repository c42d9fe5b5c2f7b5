"""Every layer of a ``Content-Encoding`` is undone under the body cap, and gzip as Go reads it.

The bodies come from a transport of the test's own that streams them (a response built
from bytes would be decoded by httpx when it is made, before the client sees it), so what
is measured is the client's own decoding, the same code the network transport feeds.
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from typing import Any

import anyio
import httpx
import pytest

from reranker_nvidia import AsyncClient, Client
from reranker_nvidia.errors import ResponseParseError, ResponseTooLargeError, TransportError

CLIENTS = ["sync", "async"]
CAP = 1 << 20
ANSWER = b'{"rankings": [{"index": 0, "logit": 1.5}]}'


def rank(kind: str, body: bytes, encoding: str, **kw: Any) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

    if kind == "sync":
        with Client("k", transport=httpx.MockTransport(handler), **kw) as client:
            return client.rank("q", ["a"])

    async def main() -> Any:
        async with AsyncClient("k", transport=httpx.MockTransport(handler), **kw) as client:
            return await client.rank("q", ["a"])

    return anyio.run(main)


def compressed(megabytes: int, wbits: int) -> bytes:
    """A JSON answer padded with ``megabytes`` MiB of spaces, compressed without holding it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    out = [packer.compress(b'{"rankings": [')]
    block = b" " * (1 << 20)
    out += [packer.compress(block) for _ in range(megabytes)]
    out += [packer.compress(b"]}"), packer.flush()]
    return b"".join(out)


GZIP, ZLIB = zlib.MAX_WBITS | 16, zlib.MAX_WBITS


def twice(coding: str) -> bytes:
    """100 MiB of answer under two layers of ``coding``: a few hundred bytes on the wire."""
    wbits = GZIP if coding == "gzip" else ZLIB
    inner = compressed(100, wbits)
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(inner) + packer.flush()


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_doubly_encoded_bomb_is_refused_at_the_cap_with_memory_to_match(
    kind: str, coding: str
) -> None:
    # Before: only a lone "gzip" was undone piecewise; httpx undid "gzip, gzip" a whole
    # chunk at a time, 100 MiB at once (2 GB, or a MemoryError, for a slightly larger bomb).
    wire = twice(coding)
    assert len(wire) < 4096
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            rank(kind, wire, f"{coding}, {coding}", max_response_bytes=CAP)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * CAP


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("encoding", ["gzip, gzip", "deflate, gzip", "Deflate,deflate"])
def test_each_layer_of_an_answer_within_the_cap_is_undone(kind: str, encoding: str) -> None:
    body = ANSWER
    for coding in (c.strip().lower() for c in encoding.split(",")):
        packer = zlib.compressobj(6, zlib.DEFLATED, GZIP if coding == "gzip" else ZLIB)
        body = packer.compress(body) + packer.flush()
    assert rank(kind, body, encoding).document_scores[0].score == 1.5


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_raw_deflate_stream_is_read_too(kind: str) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = packer.compress(ANSWER) + packer.flush()
    assert rank(kind, body, "deflate").document_scores[0].score == 1.5


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_two_member_gzip_body_is_read_as_go_reads_it(kind: str) -> None:
    # RFC 1952 allows several members; Go's gzip reader reads them all. Before: only the
    # first was read, "unexpected end of JSON input".
    half = len(ANSWER) // 2
    body = gzip.compress(ANSWER[:half]) + gzip.compress(ANSWER[half:])
    assert rank(kind, body, "gzip").document_scores[0].score == 1.5


@pytest.mark.parametrize("kind", CLIENTS)
def test_many_small_members_are_capped_as_one_body(kind: str) -> None:
    member = gzip.compress(b" " * 65536)
    body = gzip.compress(b'{"rankings": [') + member * 40 + gzip.compress(b"]}")
    with pytest.raises(ResponseTooLargeError):
        rank(kind, body, "gzip", max_response_bytes=CAP)


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_gzip_body_cut_short_is_go_s_unexpected_eof(kind: str) -> None:
    # Before: the cut stream's output was taken as the body (here the whole answer, only
    # the trailer missing) and the call succeeded; Go's reader says io.ErrUnexpectedEOF.
    body = gzip.compress(ANSWER)[:-4]
    with pytest.raises(TransportError) as caught:
        rank(kind, body, "gzip")
    assert str(caught.value) == "read response body: unexpected EOF"


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("encoding", ["br", "gzip, x-odd", "x-gzip"])
def test_a_body_in_a_coding_not_read_is_left_as_it_came(kind: str, encoding: str) -> None:
    # As Go: nothing undoes a coding it did not ask for; the raw bytes do not parse.
    # Before, "gzip, x-odd" was half undone by httpx (its gzip layer) and taken.
    with pytest.raises(ResponseParseError):
        rank(kind, gzip.compress(ANSWER), encoding)
