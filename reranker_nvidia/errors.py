"""The one exception tree of reranker-nvidia.

Every failure the library reports is a :class:`RerankerError`; ``str(err)`` is
the message the Go module gives for the same failure, word for word, unless
docs/divergences.md says otherwise (and then Go's text is kept as a prefix
wherever Go had one). Go returns plain ``error`` values; the types here let
Python callers tell failures apart without parsing text.

    RerankerError
    ├── ConfigError                 the environment or an argument is unusable
    │   └── InvalidPassageError     a passage NIM 2.4 would refuse (``.index`` in the caller's list)
    ├── ParamsError                 ``no params provided``, ``no properties provided``, …
    ├── ClientRankError             ``client rank: <cause>`` (``.cause`` is the typed cause)
    ├── MissingAPIKeyError          ``Nvidia API Key: no api key found …``
    │   └── InvalidAPIKeyError      the key is not a valid header value (it is never shown)
    ├── BaseURLError                SSRF validation: ``baseURL must use HTTPS``, …
    ├── RequestBuildError           ``create POST request: …``
    ├── TransportError              ``send POST request: …`` / ``read response body: …``
    │   ├── DeadlineExceededError   the client timeout ran out (``context deadline exceeded``)
    │   ├── DialRefusedError        the connect-time SSRF guard refused an address
    │   └── ResponseTooLargeError   the decoded body passed ``max_response_bytes``
    ├── UpstreamError               ``connection to NVIDIA API failed with status: N…``
    │   ├── RedirectError           a 3xx answer, which is never followed
    │   ├── TokenLimitError         a 400/422 saying a passage passed the model's token limit
    │   ├── ModelRetiredError       a 410: the model was retired
    │   └── EndpointMismatchError   ``endpoint auto`` found no route that fits
    └── ResponseParseError          ``failed to parse reranker response (status 200): …``
        ├── InvalidRankingsError    missing, duplicate or out-of-range indices
        └── ErrorResponseParseError ``failed to parse reranker error response (status N): …``

Every :class:`UpstreamError` has a ``hint``: ``None``, or a sentence saying
what would fit (the ``endpoint`` value for a 404 from a route that does not
fit, ``truncate END`` for a token overflow). With Go's defaults it is not part
of the message; with an ``endpoint`` or ``truncate`` setting it ends it.

Warnings (never errors): :class:`SettingsWarning`, for a setting or module
name that the module will not read; :class:`ModelDeprecationWarning`, once
per model, for an answer with a ``Deprecation`` or ``Sunset`` header.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BaseURLError",
    "ClientRankError",
    "ConfigError",
    "DeadlineExceededError",
    "DialRefusedError",
    "EndpointMismatchError",
    "ErrorResponseParseError",
    "InvalidAPIKeyError",
    "InvalidPassageError",
    "InvalidRankingsError",
    "MissingAPIKeyError",
    "ModelDeprecationWarning",
    "ModelRetiredError",
    "ParamsError",
    "RedirectError",
    "RequestBuildError",
    "RerankerError",
    "ResponseParseError",
    "ResponseTooLargeError",
    "SettingsWarning",
    "TokenLimitError",
    "TransportError",
    "UpstreamError",
]


class RerankerError(Exception):
    """Base class: every error this library raises on purpose."""

    @property
    def message(self) -> str:
        """The error text (Go's wording)."""
        return str(self)


class ConfigError(RerankerError):
    """A setting cannot be used, e.g. ``MODULES_CLIENT_TIMEOUT`` that does not parse."""


class InvalidPassageError(ConfigError):
    """A passage that NIM 2.4 would refuse, found before anything is sent (D-EXT-IMAGES).

    ``index`` is the passage's position in the caller's documents.
    """

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


class ParamsError(RerankerError):
    """The ``rerank`` additional property got unusable parameters.

    ``results`` holds what Go returns beside the error: the input unchanged for
    ``no properties provided``, otherwise ``None``.
    """

    def __init__(self, message: str, results: object = None) -> None:
        super().__init__(message)
        self.results = results


class ClientRankError(RerankerError):
    """The client failed inside the ``rerank`` property: ``client rank: <cause>``."""

    def __init__(self, cause: RerankerError) -> None:
        super().__init__(f"client rank: {cause}")
        self.cause = cause


class MissingAPIKeyError(RerankerError):
    """Neither the ``X-Nvidia-Api-Key`` header nor ``NVIDIA_APIKEY`` holds a key."""


class InvalidAPIKeyError(MissingAPIKeyError):
    """The key cannot be sent as a header value (a line break, NUL, edge whitespace, …).

    The message says what is wrong and where the key came from, never the key.
    """


class BaseURLError(RerankerError):
    """A base URL from the ``X-Nvidia-Baseurl`` header failed SSRF validation."""


class RequestBuildError(RerankerError):
    """The request URL cannot be parsed: ``create POST request: …``."""


class TransportError(RerankerError):
    """The request could not be sent, or its answer not read, over the network."""


class DeadlineExceededError(TransportError, TimeoutError):
    """The client timeout, which covers every attempt and the body, ran out."""


class DialRefusedError(TransportError):
    """``MODULES_VALIDATE_BASE_URL`` is on and every resolved address is internal."""


class ResponseTooLargeError(TransportError):
    """The decoded response body passed the client's ``max_response_bytes`` (D-BODY-CAP)."""


class UpstreamError(RerankerError):
    """The service answered with a status other than 200.

    ``status`` is the HTTP status, ``detail`` the text taken from the body (or
    ``None``), ``body`` the raw body, ``content_type`` its media type and
    ``headers`` the response headers, with lower-case names (so a caller can
    read ``retry-after`` itself). ``hint`` is ``None`` or one sentence saying
    what setting would fit (the module docstring says when it ends the message).
    ``successor`` is the model NVIDIA names in place of a retired or renamed one
    that a 410 or 404 was about (D-EXT-LIFECYCLE), else ``None``.
    """

    successor: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        detail: str | None = None,
        body: bytes = b"",
        content_type: str = "",
        headers: Mapping[str, str] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.body = body
        self.content_type = content_type
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.hint = hint


class RedirectError(UpstreamError):
    """A 3xx answer. Redirects are never followed (as in Go); ``location`` says where to."""

    def __init__(self, message: str, *, status: int, location: str | None) -> None:
        super().__init__(message, status=status, detail=None)
        self.location = location


class TokenLimitError(UpstreamError):
    """A 400 or 422 saying the input passed the model's token limit (D-EXT-TOKEN-LIMIT).

    ``passage_index`` is the passage's position in the caller's documents when
    the answer (or a chunk of one passage) tells which, else ``None``;
    ``input_tokens`` and ``max_tokens`` are the numbers NIM gave. ``hint``
    suggests ``truncate END``.
    """

    passage_index: int | None = None
    input_tokens: int | None = None
    max_tokens: int | None = None


class ModelRetiredError(UpstreamError):
    """A 410: the model was retired (D-EXT-LIFECYCLE).

    ``model`` is the model asked for; ``retired_on`` the date the answer gives
    (``YYYY-MM-DD``), or ``None``.
    """

    model: str | None = None
    retired_on: str | None = None


class EndpointMismatchError(UpstreamError):
    """``endpoint auto`` tried every route and none fits (D-EXT-ENDPOINT).

    The message names each route tried and what it answered; ``tried`` holds
    ``(endpoint, url, status, what it said)`` for each, in order.
    """

    tried: tuple[tuple[str, str, int, str], ...] = ()


class ResponseParseError(RerankerError):
    """A 200 answer whose body is not a ranking response."""

    def __init__(self, message: str, *, status: int = 200) -> None:
        super().__init__(message)
        self.status = status


class InvalidRankingsError(ResponseParseError):
    """A 200 answer whose indices do not cover each passage exactly once (Go panics)."""


class ErrorResponseParseError(ResponseParseError):
    """A 402, 403 or 422 answer whose body is not the error shape Go expects."""


class SettingsWarning(UserWarning):
    """A module setting, or a module name, that reranker-nvidia does not read.

    The request still goes where Go would send it (the defaults, for a setting
    that is not read); the warning names what was given and the nearest known
    name.
    """


class ModelDeprecationWarning(UserWarning):
    """An answer carried a ``Deprecation`` or ``Sunset`` header: the model is going away.

    Given once per model per client (D-EXT-LIFECYCLE). ``model`` is the model the
    answer was for; ``successor`` the model NVIDIA names in its place, or ``None``.
    """

    model: str | None = None
    successor: str | None = None
