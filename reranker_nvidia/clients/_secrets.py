"""The key in an error: refused when it cannot be sent, masked wherever it is echoed.

Python only (Go prints whatever the server said, and sends any key it can
encode). Three parts:

- :func:`check_api_key` refuses, before any request, a key that is not a valid
  header value, saying what is wrong without showing it (D-KEY-HEADER);
- :func:`redact` masks the key in a text, in the spellings a server may echo it
  in (as sent, URL-encoded, JSON- or HTML-escaped); a short key only where
  it stands as a whole token (D-SECRET-REDACT, D-SECRET-EVERY-COPY);
- :func:`scrubbed` makes an error that is about to leave the client safe: its
  own texts masked, and no link of its chain that could hold the key
  (D-SECRET-EVERY-COPY).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from urllib.parse import quote, quote_plus

import httpx

from ..errors import InvalidAPIKeyError, RedirectError, RerankerError, UpstreamError

REDACTED = "[redacted]"

_LONG_ENOUGH = 8
"""A key this long inside a longer word can only be the key; a shorter one may be any word."""

_PERCENT = re.compile(r"%[0-9A-F]{2}")


# --------------------------------------------------------------------------
# A key that cannot be sent (D-KEY-HEADER)
# --------------------------------------------------------------------------


def check_api_key(key: str, source: str) -> None:
    """Refuse ``key`` unless it is a valid header value: printable ASCII, no edge whitespace.

    ``source`` names where the key came from (``X-Nvidia-Api-Key header``,
    ``NVIDIA_APIKEY``). The message never holds the key. A key that is not a
    ``str`` at all (a list, bytes) is a ``TypeError`` naming the argument.
    """
    if not isinstance(key, str):
        name = "api_key" if source == "the api_key argument" else source
        raise TypeError(f"{name} must be a str or None, not {type(key).__name__}")
    fault = _header_value_fault(key)
    if fault is not None:
        raise InvalidAPIKeyError(
            f"Nvidia API Key: the key from {source} cannot be sent as a header value: {fault}"
        )


def _header_value_fault(key: str) -> str | None:
    if key[-1:] in ("\n", "\r"):
        return "it ends with a line break"
    if key[-1:].isspace():
        return "it ends with whitespace"
    if key[:1].isspace():
        return "it starts with whitespace"
    if "\n" in key or "\r" in key:
        return "it holds a line break"
    if "\x00" in key:
        return "it holds a NUL character"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key if char != "\t"):
        return "it holds a control character"
    if not key.isascii():
        return "it holds a character that is not ASCII"
    return None


# --------------------------------------------------------------------------
# Masking a text (D-SECRET-REDACT, D-SECRET-EVERY-COPY)
# --------------------------------------------------------------------------


def spellings(secret: str) -> list[str]:
    """``secret`` as a server may echo it: as sent, URL-encoded (either hex case), escaped."""
    out = [
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
    ]
    out += [_PERCENT.sub(lambda hexes: hexes.group().lower(), spelt) for spelt in out[1:4]]
    unique = dict.fromkeys(spelt for spelt in out if spelt)
    # Longest first, so that a spelling holding another is masked whole.
    return sorted(unique, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str]) -> str:
    """Every spelling of every secret in ``text`` replaced by ``[redacted]``.

    A secret of 8 characters or more can only be the key: found inside a
    longer word, it is masked with the whole word. A shorter one is masked
    only where it stands as a whole token (``for key test``, ``"test"``,
    ``key=test``); inside a word or a name of parts (key ``k`` in
    ``Unknown``, key ``test`` in ``my-test-model``) it is another word, left
    as it is (D-SECRET-EVERY-COPY).
    """
    for secret in secrets:
        if not secret:
            continue
        for spelt in spellings(secret):
            text = _mask(text, spelt, whole_words=len(secret) >= _LONG_ENOUGH)
    return text


def redact_bytes(data: bytes, secrets: Sequence[str]) -> bytes:
    """:func:`redact` for a raw body, whatever its encoding."""
    as_latin1 = [spelt.encode("utf-8").decode("latin-1") for spelt in secrets if spelt]
    if not as_latin1:
        return data
    # Latin-1 maps each byte to one character and back, so no byte is lost.
    return redact(data.decode("latin-1"), as_latin1).encode("latin-1")


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


_TOKEN_ENDS = frozenset("\"'`()[]{}<>=:,;&|")
"""Characters that end a token (white space too); ``-``, ``.``, ``/`` join a name's parts."""


def _ends_token(char: str) -> bool:
    return char.isspace() or char in _TOKEN_ENDS


def _standalone(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a whole token: ``key test``, ``"test"``, ``key=test.``.

    Not inside a word or a name of parts (``my-test-model``, ``/v1/test/``,
    ``nvidia.test.v2``); a ``.``, ``!`` or ``?`` that ends a sentence ends it too.
    """
    before = start == 0 or _ends_token(text[start - 1]) or _ends_token(text[start])
    if end == len(text) or _ends_token(text[end]) or _ends_token(text[end - 1]):
        return before
    sentence_end = text[end] in ".!?" and (end + 1 == len(text) or _ends_token(text[end + 1]))
    return before and sentence_end


def _mask(text: str, spelt: str, *, whole_words: bool) -> str:
    out: list[str] = []
    done = 0
    start = text.find(spelt)
    while start != -1:
        end = start + len(spelt)
        begin, stop = start, end
        if whole_words and _word(spelt[0]):
            while begin > 0 and _word(text[begin - 1]):
                begin -= 1
        if whole_words and _word(spelt[-1]):
            while stop < len(text) and _word(text[stop]):
                stop += 1
        if whole_words or _standalone(text, start, end):
            begin = max(begin, done)  # a word already masked is not masked twice
            out.append(text[done:begin])
            out.append(REDACTED)
            done = stop
            start = text.find(spelt, stop)
        else:
            start = text.find(spelt, start + 1)
    out.append(text[done:])
    return "".join(out)


# --------------------------------------------------------------------------
# An error on its way out
# --------------------------------------------------------------------------


def scrubbed(error: RerankerError, secrets: Sequence[str]) -> RerankerError:
    """``error`` with the key masked in each text it carries, and its chain cut where unsafe.

    The message, ``detail``, ``body`` and ``location`` are masked. A chained
    link is kept only when it is one of the library's own errors or a network
    error whose texts do not hold the key; an ``httpx`` error keeps no request
    (its headers hold the key). Anything else (a pydantic error quoting a
    body, a ``UnicodeEncodeError`` quoting a header) ends the chain.
    """
    live = [secret for secret in secrets if secret]
    link: BaseException = error
    seen: set[int] = set()
    while id(link) not in seen:
        seen.add(id(link))
        _mask_own_texts(link, live)
        following = link.__cause__ if link.__cause__ is not None else link.__context__
        if following is None:
            break
        if not _safe_link(following, live):
            link.__cause__ = None
            link.__context__ = None
            link.__suppress_context__ = True
            break
        link = following
    return error


def _mask_own_texts(link: BaseException, secrets: Sequence[str]) -> None:
    if isinstance(link, RerankerError):
        link.args = tuple(
            redact(arg, secrets) if isinstance(arg, str) else arg for arg in link.args
        )
    if isinstance(link, UpstreamError):
        link.body = redact_bytes(link.body, secrets)
        if link.detail is not None:
            link.detail = redact(link.detail, secrets)
        if link.hint is not None:  # a hint may quote the base URL
            link.hint = redact(link.hint, secrets)
        link.content_type = redact(link.content_type, secrets)
    if isinstance(link, RedirectError) and link.location is not None:
        link.location = redact(link.location, secrets)
    if isinstance(link, httpx.RequestError):
        # The request's headers carry the key: keep only its method and URL.
        try:
            request = link.request
        except RuntimeError:
            return
        link.request = httpx.Request(request.method, redact(str(request.url), secrets))


def _safe_link(link: BaseException, secrets: Sequence[str]) -> bool:
    if isinstance(link, RerankerError):
        return True
    if not isinstance(link, httpx.HTTPError | OSError) or isinstance(link, UnicodeError):
        return False
    said = f"{link!s} {link!r}"
    return all(spelt not in said for secret in secrets for spelt in spellings(secret))
