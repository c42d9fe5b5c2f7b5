"""Go's ``net/url`` parsing, as far as base-URL validation and the error text need it.

Ported behaviour of Go's standard library (``net/url/url.go``): how a scheme is
recognised, how the authority splits into user, host and port, which bytes a
host may hold, and how ``net/http`` prints a URL with a password in an error.
Python's ``urllib.parse`` is more forgiving (it strips leading blanks, accepts
a space in a host name), which would let a URL through that Go refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

# Bytes Go's shouldEscape(c, encodeHost) lets through unescaped in a host.
_HOST_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'()*+,;=:[]<>\""
)
_HOST_LOOKED_AT = re.compile("[^" + re.escape("".join(sorted(_HOST_SAFE))) + "\x80-\U0010ffff]")
"""A character of a host that needs a look: ``%`` (an escape), or ASCII that is not safe."""
_CONTROL = re.compile("[\x00-\x1f\x7f]")


class URLError(ValueError):
    """A URL Go's ``url.Parse`` rejects; ``str()`` is Go's ``parse "…": reason``."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"parse {go_quote(raw)}: {reason}")
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True, slots=True)
class URL:
    """The parts of a parsed URL that the module looks at."""

    scheme: str
    """Lower-cased, as Go stores it; ``""`` when there is none."""
    userinfo: str | None
    host: str
    """Host and port as written, IPv6 brackets included (Go's ``URL.Host``)."""

    def hostname(self) -> str:
        """Go's ``URL.Hostname()``: the host without port and brackets."""
        host = self.host
        if host.startswith("["):
            end = host.find("]")
            return host[1:end] if end != -1 else host[1:]
        colon = host.rfind(":")
        return host[:colon] if colon != -1 else host

    def port(self) -> str:
        """Go's ``URL.Port()``: the port digits, or ``""``."""
        host = self.host
        if host.startswith("["):
            end = host.find("]")
            host = host[end + 1 :] if end != -1 else ""
        colon = host.rfind(":")
        return host[colon + 1 :] if colon != -1 else ""


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote`` for the ASCII-printable strings found in URLs."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _split_scheme(raw: str) -> tuple[str, str]:
    """Go's ``getScheme``: an invalid first character means there is no scheme."""
    for i, ch in enumerate(raw):
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if i == 0:
                return "", raw
            continue
        if ch == ":":
            if i == 0:
                raise URLError(raw, "missing protocol scheme")
            return raw[:i].lower(), raw[i + 1 :]
        return "", raw
    return "", raw


def _check_host(raw: str, host: str) -> None:
    if host.startswith("["):
        end = host.find("]")
        if end == -1:
            raise URLError(raw, "missing ']' in host")
        rest = host[end + 1 :]
        if rest and (not rest.startswith(":") or not rest[1:].isdigit()):
            raise URLError(raw, f"invalid port {go_quote(rest)} after host")
        return
    colon = host.rfind(":")
    if colon != -1:
        port = host[colon:]
        if port != ":" and not (port[1:].isascii() and port[1:].isdigit()):
            raise URLError(raw, f"invalid port {go_quote(port)} after host")
    if _HOST_LOOKED_AT.search(host) is None:  # the usual host: one scan at C speed
        return
    for i, ch in enumerate(host):
        if ch == "%":
            # Go's unescape in host mode: a valid escape of a non-ASCII byte (or %25).
            escape = host[i : i + 3]
            hex_digits = escape[1:]
            valid = len(escape) == 3 and all(c in "0123456789abcdefABCDEF" for c in hex_digits)
            if not valid or (int(hex_digits, 16) < 0x80 and escape != "%25"):
                raise URLError(raw, f"invalid URL escape {go_quote(escape)}")
            continue
        if ord(ch) < 0x80 and ch not in _HOST_SAFE:
            raise URLError(raw, f"invalid character {go_quote(ch)} in host name")


def parse(raw: str) -> URL:
    """Parse ``raw`` as Go's ``url.Parse`` does, raising :class:`URLError` as Go would."""
    if _CONTROL.search(raw) is not None:
        raise URLError(raw, "net/url: invalid control character in URL")
    scheme, rest = _split_scheme(raw)
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    if not rest.startswith("//") or (not scheme and rest.startswith("///")):
        return URL(scheme=scheme, userinfo=None, host="")
    authority = rest[2:].split("/", 1)[0]
    userinfo: str | None = None
    at = authority.rfind("@")
    if at != -1:
        userinfo, authority = authority[:at], authority[at + 1 :]
    _check_host(raw, authority)
    return URL(scheme=scheme, userinfo=userinfo, host=unquote(authority))


def strip_password(raw: str) -> str:
    """What Go's ``net/http`` prints for a URL in an error: any password as ``***``."""
    try:
        parsed = parse(raw)
    except URLError:
        return raw
    if parsed.userinfo is None or ":" not in parsed.userinfo:
        return raw
    user = parsed.userinfo.split(":", 1)[0]
    return raw.replace(parsed.userinfo + "@", user + ":***@", 1)
