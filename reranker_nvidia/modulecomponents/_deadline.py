"""One deadline for a whole request: Python-only plumbing of the retry transport.

Go gives a request a deadline with ``context.WithTimeout`` and keeps it in
force until the body is closed (``cancelOnClose`` in retry_transport.go).
Here the deadline is a ``time.monotonic()`` instant held in a context
variable: the retry transport sets it, the network backend in
``_transport.py`` cuts every socket operation down to what is left of it (and
refuses to start one when nothing is left, since a socket timeout of zero
would mean non-blocking mode), and the response body is read under it
through the deadline-bound streams below.

The body is also read under a size cap: :class:`DeadlineBoundStream` counts
the decoded bytes, undoing a gzip or deflate body itself, every layer of a
``Content-Encoding`` list (``gzip, gzip`` too), piece by piece and each layer
under the cap, so neither a body that never ends nor a gzip bomb, however
nested, can grow memory past the cap. As Go's gzip reader, every member of a
multi-member gzip body is read, and one cut short is ``unexpected EOF``. A body
in any other coding is left as it came (Go undoes only the gzip it asked for;
it drops the ``Content-Encoding`` and ``Content-Length`` headers when it does,
and so does this).
"""

from __future__ import annotations

import contextlib
import math
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

import httpx

from ..errors import ConfigError, ResponseTooLargeError

_DEADLINE: ContextVar[float | None] = ContextVar("reranker_nvidia_deadline", default=None)

MAX_TIMEOUT = 1e9
"""Seconds (some 31 years) from which a timeout means none: the OS cannot wait that long."""

DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # D-BODY-CAP
"""The default cap on a decoded response body: 8 MiB (a full 512-passage answer is ~25 KB)."""

_PIECE = 64 * 1024  # how much compressed input is inflated, or output let out, at a time


def checked_timeout(timeout: float) -> float:
    """``timeout`` in seconds as the retry transport keeps it: ``0.0`` for none.

    Zero or less means none, as in Go; so does anything from :data:`MAX_TIMEOUT`
    up, infinity included. NaN is refused with :class:`ConfigError`.
    """
    if math.isnan(timeout):
        raise ConfigError("timeout must be a number of seconds, not nan")
    if timeout <= 0 or timeout >= MAX_TIMEOUT:
        return 0.0
    return float(timeout)


def checked_max_response_bytes(cap: int) -> int:
    """``cap`` if it is at least one byte, else :class:`ConfigError`."""
    if cap < 1:
        raise ConfigError(f"max_response_bytes must be at least 1, not {cap}")
    return cap


class DeadlineExceeded(httpx.TimeoutException):
    """The request's deadline passed (Go: ``context.DeadlineExceeded``)."""

    def __init__(self) -> None:
        super().__init__("context deadline exceeded")


def current_deadline() -> float | None:
    """The ``time.monotonic()`` instant the running request must end by, if any."""
    return _DEADLINE.get()


@contextlib.contextmanager
def deadline_scope(deadline: float | None) -> Iterator[float | None]:
    """Put ``deadline`` in force inside, unless an earlier one already is; yields the one used."""
    outer = _DEADLINE.get()
    if deadline is None or (outer is not None and outer <= deadline):
        yield outer
        return
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def bounded_timeout(timeout: float | None) -> float | None:
    """``timeout`` cut down to what is left before the deadline in force.

    Raises :class:`DeadlineExceeded` when nothing is left: a socket given a
    timeout of ``0.0`` would go non-blocking and fail with ``EAGAIN`` or
    ``EINPROGRESS`` instead of reporting the deadline.
    """
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded
    return remaining if timeout is None else min(timeout, remaining)


@contextlib.contextmanager
def deadline_errors(*timeouts: type[BaseException]) -> Iterator[None]:
    """Report any of ``timeouts`` raised inside as the deadline passing."""
    try:
        yield
    except DeadlineExceeded:
        raise
    except timeouts as err:
        raise DeadlineExceeded from err


_GZIP = zlib.MAX_WBITS | 16
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class _Layer:
    """One coding of a ``Content-Encoding`` list, undone at most a piece at a time, so a
    small input cannot become a large output in one step.

    ``gzip`` reads every member of a multi-member body, as Go's gzip reader does (RFC 1952
    allows several); ``deflate`` is the zlib format, or a raw deflate stream when its first
    two bytes are no zlib header (as httpx reads it).
    """

    def __init__(self, coding: str) -> None:
        self._gzip = coding == "gzip"
        self._zlib: Any = zlib.decompressobj(_GZIP) if self._gzip else None
        self._head = b""  # deflate: the first bytes, until the format is known
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            data = self._head = self._head + data
            if len(data) < 2:
                return
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(_ZLIB if zlib_header else _RAW_DEFLATE)
        self._fed = self._fed or bool(data)
        try:
            while data:
                if self._zlib.eof:
                    if not self._gzip:
                        return  # what follows a deflate stream is not read (as httpx)
                    self._zlib = zlib.decompressobj(_GZIP)  # the next gzip member
                out = self._zlib.decompress(data, _PIECE)
                data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
                if out:
                    yield out
        except zlib.error as err:
            raise httpx.DecodingError(str(err)) from None

    def end(self) -> Iterator[bytes]:
        if self._zlib is None:  # deflate with fewer than two bytes: not a stream
            if self._head:
                raise httpx.DecodingError("unexpected EOF")
            return
        try:
            rest = self._zlib.flush()
        except zlib.error as err:  # pragma: no cover - flush after decompress does not fail
            raise httpx.DecodingError(str(err)) from None
        if rest:
            yield rest
        if self._fed and not self._zlib.eof:
            raise httpx.DecodingError("unexpected EOF")  # Go: io.ErrUnexpectedEOF


class _Inflater:
    """Undoes every coding of a ``Content-Encoding`` list, last applied first, each layer's
    output capped like the body (``gzip, gzip`` cannot grow memory past the cap either)."""

    def __init__(self, codings: list[str], limit: int | None = None) -> None:
        self._layers = [_Layer(coding) for coding in reversed(codings)]
        self._caps = [_Cap(limit) for _ in self._layers]

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            yield data
            return
        for piece in self._layers[index].feed(data):
            yield from self._through(index + 1, self._caps[index].admit(piece))

    def end(self) -> Iterator[bytes]:
        for index, layer in enumerate(self._layers):
            for piece in layer.end():
                yield from self._through(index + 1, self._caps[index].admit(piece))


class _Cap:
    """Counts the decoded bytes of one body; raises once they pass ``limit``."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._count = 0

    def admit(self, data: bytes) -> bytes:
        self._count += len(data)
        if self._limit is not None and self._count > self._limit:
            raise ResponseTooLargeError(
                "read response body: the response body is larger than "
                f"max_response_bytes ({self._limit})"
            )
        return data


_DECODED = frozenset({"gzip", "deflate"})


def take_encoding(response: httpx.Response, limit: int | None = None) -> _Inflater | None:
    """An inflater if ``response``'s codings are all gzip or deflate (identity aside), its
    encoding headers then dropped (as Go does for the gzip it asked for); else ``None``.

    A body in any other coding (``br``, ``zstd``, unknown) is left as it came: nothing
    decodes it (:func:`read_capped` reads the raw bytes), as in Go.
    """
    codings = [
        coding.strip().lower()
        for coding in response.headers.get_list("Content-Encoding", split_commas=True)
    ]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings or not _DECODED.issuperset(codings):
        return None
    del response.headers["Content-Encoding"]
    if "Content-Length" in response.headers:
        del response.headers["Content-Length"]
    return _Inflater(codings, limit)


def read_capped(response: httpx.Response, limit: int | None) -> bytes:
    """The body as the transport gives it, refused with :class:`ResponseTooLargeError` past
    ``limit`` bytes.

    The raw bytes: the retry transport has undone the codings it decodes, under its own
    cap, and httpx decodes nothing more (its decoders take a whole chunk at a time). A
    response a transport of the caller's own built from bytes was read when it was made."""
    cap = _Cap(limit)
    chunks = response.iter_bytes() if response.is_stream_consumed else response.iter_raw()
    return b"".join(cap.admit(chunk) for chunk in chunks)


async def aread_capped(response: httpx.Response, limit: int | None) -> bytes:
    """The async twin of :func:`read_capped`."""
    cap = _Cap(limit)
    chunks = response.aiter_bytes() if response.is_stream_consumed else response.aiter_raw()
    return b"".join([cap.admit(chunk) async for chunk in chunks])


def _decoded(inflater: _Inflater | None, chunk: bytes) -> Iterable[bytes]:
    return (chunk,) if inflater is None else inflater.feed(chunk)


_Inner = TypeVar("_Inner")


class _Bounds(Generic[_Inner]):
    """What both body streams share: the deadline, the inflater, the cap."""

    def __init__(
        self,
        inner: _Inner,
        deadline: float | None,
        *,
        inflater: _Inflater | None = None,
        limit: int | None = None,
    ) -> None:
        self._inner = inner
        self._deadline = deadline
        self._inflater = inflater
        self._limit = limit

    def _check(self) -> None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise DeadlineExceeded

    def _rest(self) -> Iterable[bytes]:
        """What the inflater still holds once the body has ended (nothing without one)."""
        return () if self._inflater is None else self._inflater.end()


class DeadlineBoundStream(_Bounds[httpx.SyncByteStream], httpx.SyncByteStream):
    """A response body read under the request's deadline (Go: ``cancelOnClose``).

    ``deadline`` may be ``None`` (no timeout); ``inflater`` decodes a gzip body;
    ``limit`` caps the decoded bytes.
    """

    def __iter__(self) -> Iterator[bytes]:
        iterator = iter(self._inner)
        cap = _Cap(self._limit)
        while True:
            self._check()
            with deadline_scope(self._deadline):
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                except httpx.TimeoutException as err:
                    raise DeadlineExceeded from err
            for piece in _decoded(self._inflater, chunk):
                yield cap.admit(piece)
                self._check()
        for rest in self._rest():
            yield cap.admit(rest)

    def close(self) -> None:
        self._inner.close()


class AsyncDeadlineBoundStream(_Bounds[httpx.AsyncByteStream], httpx.AsyncByteStream):
    """The async twin of :class:`DeadlineBoundStream`."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import anyio.lowlevel  # noqa: PLC0415 - async only: the sync client and the CLI never load anyio

        iterator = self._inner.__aiter__()
        cap = _Cap(self._limit)
        while True:
            self._check()
            remaining = math.inf if self._deadline is None else self._deadline - time.monotonic()
            with deadline_scope(self._deadline):
                try:
                    with anyio.fail_after(None if math.isinf(remaining) else remaining):
                        chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except (TimeoutError, httpx.TimeoutException) as err:
                    raise DeadlineExceeded from err
            for piece in _decoded(self._inflater, chunk):
                yield cap.admit(piece)
                self._check()
                await anyio.lowlevel.checkpoint()  # inflating is work: let the loop breathe
        for rest in self._rest():
            yield cap.admit(rest)

    async def aclose(self) -> None:
        await self._inner.aclose()
