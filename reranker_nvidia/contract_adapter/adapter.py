"""Running one contract case's input against this port (the reference adapter).

The adapter protocol (contracts/README.md, "The adapter protocol"): the
runner writes ``{"kind": K, "input": {…}}`` as JSON on the program's standard
input, with the case's ``env`` in the program's environment; the program
writes the outcome as JSON on standard output and exits 0, or writes
``{"error": "<message>"}`` and exits 1. With ``--persistent`` the program
stays up: one ``{"kind", "input", "env"}`` case per line in, one outcome per
line out, each case run with exactly the module variables its ``env`` names, and each
answer carrying the ``id`` of its case's line.

``reranker-nvidia contracts adapter`` is this module as such a program, so
the protocol is exercised end to end by our own suite.

The extensions' cases (contracts/README.md, "Extensions") need a few things
more: a document may be a passage object (``{"text", "image"}``), given to the
client as a :class:`~reranker_nvidia.Passage`; the model-deprecation warnings
the client raises, and the warnings it logs on the ``reranker_nvidia`` logger
(a call that failed open, D-EXT-FAIL-OPEN), are reported as the outcome's
``warnings``; a ``rank`` outcome that was not reranked also says
``"reranked": false`` (its scores are ``null``), and a reranked one says
nothing more, as before; a ``rank`` with the ``usage`` setting reports
``result.usage`` as the outcome's ``usage``; and ``input.calls`` (N ≥ 1) makes
the same ``rank`` call N times on one client, the outcome being the last call's
(a cache's second call; an earlier call's error is not the outcome).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, TextIO

from reranker_nvidia.clients.ranker import API_KEY_ENV, MAX_DOCUMENTS, Client
from reranker_nvidia.config.class_settings import NAME, ClassSettings
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.errors import RerankerError
from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.usecases.config.environment import module_http_client_timeout_from_environment
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig


class AdapterError(Exception):
    """The case's input is not one this adapter understands (a suite or runner bug)."""


def class_config(input_: Mapping[str, Any]) -> ClassBasedModuleConfig | None:
    """The ClassConfig Weaviate would build: from ``class`` (module name ""), or ``settings``."""
    if "class" in input_:
        class_def = input_["class"]
        return None if class_def is None else ClassBasedModuleConfig(class_def, "")
    return ClassBasedModuleConfig({"moduleConfig": {NAME: dict(input_.get("settings", {}))}})


def _headers(input_: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(name), str(value)) for name, value in input_.get("headers", [])]


def _client(input_: Mapping[str, Any], environ: Mapping[str, str]) -> Client:
    # As the module's Init: the key and the timeout come from the environment, once.
    timeout = module_http_client_timeout_from_environment(environ)
    return Client(
        environ.get(API_KEY_ENV, ""),
        timeout,
        max_documents=int(input_.get("max_documents", MAX_DOCUMENTS)),
        max_concurrency=input_.get("max_concurrency"),
    )


def _documents(raw: Any) -> list[Any]:
    """The case's documents: strings as they are, passage objects as ``Passage``."""
    documents: list[Any] = []
    for index, document in enumerate(raw):
        if isinstance(document, str):
            documents.append(document)
        elif isinstance(document, dict) and set(document) <= {"text", "image"}:
            from reranker_nvidia import Passage  # noqa: PLC0415 - only the extensions' cases

            documents.append(Passage(text=document.get("text"), image=document.get("image")))
        else:
            raise AdapterError(f"document {index} is neither a string nor a passage object")
    return documents


def _deprecation_category() -> type[Warning] | None:
    """The client's model-deprecation warning, where this version of the port has one."""
    import reranker_nvidia  # noqa: PLC0415

    category = getattr(reranker_nvidia, "ModelDeprecationWarning", None)
    return category if isinstance(category, type) and issubclass(category, Warning) else None


def _reporting_warnings(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()``'s outcome, with the model-deprecation warnings it raised as ``warnings``.

    Other warnings are raised again, as if nothing had caught them.
    """
    category = _deprecation_category()
    logged = _Logged()
    logger = logging.getLogger("reranker_nvidia")
    propagate = logger.propagate
    logger.addHandler(logged)
    logger.propagate = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if category is not None:
            # Each case starts afresh (catch_warnings forgets what was shown); within the
            # case, a warning repeated word for word is reported once, as Python shows it.
            warnings.simplefilter("default", category)
        try:
            outcome = run()
        finally:
            logger.removeHandler(logged)
            logger.propagate = propagate
    reported: list[str] = []
    for item in caught:
        if category is not None and issubclass(item.category, category):
            reported.append(str(item.message))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    reported.extend(logged.messages)
    if reported:
        outcome["warnings"] = reported
    return outcome


class _Logged(logging.Handler):
    """The ``reranker_nvidia`` logger's warnings while a case runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _graphql_params(arguments: str) -> Params:
    try:
        import graphql  # noqa: PLC0415 - the graphql extra is only needed for this kind
    except ImportError as err:  # pragma: no cover - dev installs have it
        raise AdapterError("graphql-arguments cases need graphql-core") from err
    try:
        document = graphql.parse(f"{{ f{arguments} }}")
    except graphql.GraphQLError as err:
        raise AdapterError(f"the case's GraphQL arguments do not parse: {err.message}") from None
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    assert isinstance(field, graphql.FieldNode)
    return ReRankerProvider().extract_additional_fn(field.arguments)


def execute(kind: str, input_: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """One case's outcome: ``{"scores"|"results"|"settings"|"params": …}`` or ``{"error": …}``.

    An outcome also holds ``warnings`` when the client raised model-deprecation warnings.
    """
    return _reporting_warnings(lambda: _outcome(kind, input_, environ))


def _outcome(kind: str, input_: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        if kind == "settings":
            settings = ClassSettings(class_config(input_))
            return {"settings": {"model": settings.model(), "baseURL": settings.base_url()}}
        if kind == "graphql-arguments":
            params = _graphql_params(str(input_["arguments"]))
            return {"params": {"property": params.property, "query": params.query}}
        if kind == "rank":
            with _client(input_, environ) as client:
                for _ in range(int(input_.get("calls", 1)) - 1):  # their outcomes are not kept
                    with contextlib.suppress(RerankerError):
                        _rank(client, input_)
                result = _rank(client, input_)
            return _rank_outcome(result)
        if kind == "rerank":
            raw = input_["params"]
            rerank_params = None if raw is None else Params(raw.get("property"), raw.get("query"))
            results = [SearchResult.from_json(item) for item in input_["results"]]
            with _client(input_, environ) as client:
                ranked = ReRankerProvider(client).additional_property_fn(
                    results,
                    rerank_params,
                    None,
                    None,
                    class_config(input_),
                    headers=_headers(input_),
                )
            return {"results": [result.to_json() for result in ranked]}
    except RerankerError as err:
        return {"error": str(err)}
    raise AdapterError(f"unknown case kind {kind!r}")


def _rank(client: Client, input_: Mapping[str, Any]) -> Any:
    return client.rank(
        str(input_["query"]),
        _documents(input_["documents"]),
        class_config(input_),
        headers=_headers(input_),
    )


def _rank_outcome(result: Any) -> dict[str, Any]:
    """A ``rank``'s scores, ``"reranked": false`` for one that failed open (D-EXT-FAIL-OPEN),
    and its ``usage`` when the call reported one (D-EXT-USAGE)."""
    outcome: dict[str, Any] = {"scores": [score.score for score in result.document_scores]}
    if not result.reranked:  # the input order, unscored
        outcome["reranked"] = False
    if result.usage is not None:
        outcome["usage"] = dataclasses.asdict(result.usage)
    return outcome


def main(
    stdin: BinaryIO | None = None, stdout: TextIO | None = None, *, persistent: bool = False
) -> int:
    """Read one case from standard input, write its outcome to standard output.

    With ``persistent``, read one case per line until standard input ends,
    answering each on one line (``--persistent``, contracts/README.md).
    """
    source = stdin if stdin is not None else sys.stdin.buffer
    out = stdout if stdout is not None else sys.stdout
    if persistent:
        return _serve(source, out)
    try:
        request = json.loads(source.read())
        outcome = execute(request["kind"], request["input"], os.environ)
    except (ValueError, KeyError, TypeError, AdapterError) as err:
        outcome = {"error": f"adapter: cannot run the case: {err}"}
        out.write(json.dumps(outcome) + "\n")
        return 2
    out.write(json.dumps(outcome, ensure_ascii=False) + "\n")
    return 1 if "error" in outcome else 0


# The module's environment variables: a persistent case sets exactly those it names.
MODULE_ENVIRONMENT = ("NVIDIA_APIKEY", "MODULES_CLIENT_TIMEOUT", "MODULES_VALIDATE_BASE_URL")


def _serve(source: BinaryIO, out: TextIO) -> int:
    """One case per line in, one outcome per line out; a line that is no case gets an error.

    Each answer carries the ``id`` of the line it answers, so the runner ties it to its case.
    """
    for line in source:
        if not line.strip():
            continue
        request: Any = None
        try:
            request = json.loads(line)
            env = request.get("env") or {}
            for name in MODULE_ENVIRONMENT:
                if name in env:
                    os.environ[name] = str(env[name])
                else:
                    os.environ.pop(name, None)
            outcome = execute(request["kind"], request["input"], os.environ)
        except (ValueError, KeyError, TypeError, AttributeError, AdapterError) as err:
            outcome = {"error": f"adapter: cannot run the case: {err}"}
        if isinstance(request, dict) and "id" in request:
            outcome = {"id": request["id"], **outcome}
        out.write(json.dumps(outcome, ensure_ascii=False) + "\n")
        out.flush()
    return 0
