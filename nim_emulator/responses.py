"""The handlers (moto's responses.py): parse the request, call the model layer, render the reply.

Every route of ``urls`` names one handler here. A NIM handler takes the
state, the request, its log record and the path's parameters; a control
handler takes the state and the request. Each returns a
:class:`~nim_emulator._wire.Reply`; a check that fails raises an
:mod:`~nim_emulator.exceptions` error, which the ASGI layer renders in its
place. Success bodies are rendered here; each says where its shape comes from.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from nim_emulator import _captures as cap
from nim_emulator import models
from nim_emulator._cassette import parse_cassette
from nim_emulator._catalogue import ModelInfo
from nim_emulator._config import nim_major
from nim_emulator._json import loads
from nim_emulator._wire import JSON, Incoming, Reply, render_json, render_rankings
from nim_emulator.exceptions import ControlError, FaultSpecError
from nim_emulator.faults import FaultSpec, accepted_reply
from nim_emulator.models import EmulatorState, Ranking, RequestRecord

__all__ = [
    "arm_faults",
    "clear_faults",
    "gateway_rerank",
    "generic_reranking",
    "health_live",
    "health_ready",
    "leave_replay",
    "list_faults",
    "list_models",
    "list_requests",
    "load_replay",
    "metadata",
    "model_reranking",
    "nvcf_status",
    "replay",
    "reset",
    "self_hosted_ranking",
    "unused_interactions",
]

# Framing and per-connection headers of a replayed response are the server's business.
_DROPPED_REPLAY_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)

Params = Mapping[str, str]


# ---- NVIDIA's routes ------------------------------------------------------------------------


def generic_reranking(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``POST /v1/retrieval/nvidia/reranking``: the generic route's two models."""
    return _hosted(state, request, record, None)


def model_reranking(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``POST /v1/retrieval/nvidia/{model}/reranking``: one model's route."""
    return _hosted(state, request, record, models.hosted_route_model(params["model"]))


def _hosted(
    state: EmulatorState, request: Incoming, record: RequestRecord, route_model: ModelInfo | None
) -> Reply:
    models.authenticate(state, record, request.header("authorization"))
    if route_model is not None:
        models.check_account(state, route_model)
        models.check_end_of_life(state, route_model)
    request_id = str(uuid.uuid4())
    ranking = models.rank_hosted(state, request.body, route_model, request_id)
    if ranking.captured:
        reply = _captured_rankings(request_id)
    else:
        reply = _rankings(ranking, None, hosted=True, request_id=request_id)
    reply.headers += models.lifecycle_headers(state, ranking.model)
    return reply


def self_hosted_ranking(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``POST /v1/ranking``: a self-hosted NIM (no key check)."""
    ranking = models.rank_self_hosted(state, request.body)
    usage = None
    if state.config.include_usage:
        usage = {"prompt_tokens": ranking.tokens, "total_tokens": ranking.tokens}
    reply = _rankings(ranking, usage, hosted=False, request_id=None)
    reply.headers += models.lifecycle_headers(state, ranking.model)
    return reply


def gateway_rerank(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``POST /v1/rerank``: the gateway's Cohere-shaped contract (hosted key rules).

    Inferred body: Cohere's v2 answer, ``{"id", "results": [{"index",
    "relevance_score"}], "meta": {"billed_units": {"search_units": 1}}}``,
    compact; ``document`` per result when ``return_documents``.
    """
    models.authenticate(state, record, request.header("authorization"))
    ranking = models.rank_gateway(state, request.body)
    results: list[dict[str, Any]] = []
    for index, score in ranking.results:
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if ranking.return_documents:
            result["document"] = {"text": ranking.documents[index]}
        results.append(result)
    body = {
        "id": str(uuid.uuid4()),
        "results": results,
        "meta": {"billed_units": {"search_units": 1}},
    }
    headers = [("content-type", JSON), *models.lifecycle_headers(state, ranking.model)]
    return Reply(200, headers, render_json(body, compact=True))


def list_models(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``GET /v1/models``: the published example's shape, compact.

    With ``model_list_id`` set, the entry is a NIM 2.x one (*inferred*, the
    OpenAI model object): ``{"id": <model_list_id>, "object": "model",
    "owned_by": "system", "root": <self_hosted_model>}``.
    """
    entry: dict[str, Any] = {"id": state.config.self_hosted_model}
    if state.config.model_list_id is not None:
        entry = {
            "id": state.config.model_list_id,
            "object": "model",
            "owned_by": "system",
            "root": state.config.self_hosted_model,
        }
    data = {"object": cap.MODELS_LIST_OBJECT, "data": [entry]}
    return Reply(200, [("content-type", JSON)], render_json(data, compact=True))


DEFAULT_NIM_VERSION: Final = "2.4.0"
"""The NIM version ``GET /v1/metadata`` reports when ``nim_version`` is not set (invented)."""


def metadata(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``GET /v1/metadata``: a self-hosted NIM's deployment metadata, compact.

    Documented shape (NVIDIA's NIM API references: ``version``, ``modelInfo``
    a list of models served, ``assetInfo``, ``licenseInfo``; the NeMo Retriever
    2.x runtimes list the route); NVIDIA's k8s NIM operator reads the served
    model from ``modelInfo`` when ``/v1/models`` is missing. Inferred values:
    ``shortName`` is the served model id, ``modelUrl`` an ``ngc://`` URL for
    it, the version ``nim_version`` (or 2.4.0); ``assetInfo`` and
    ``licenseInfo`` are empty.
    """
    version = state.config.nim_version or DEFAULT_NIM_VERSION
    if nim_major(version) is None:  # pragma: no cover - EmulatorConfig checks it
        version = DEFAULT_NIM_VERSION
    model = state.config.self_hosted_model
    body = {
        "version": version,
        "modelInfo": [{"shortName": model, "modelUrl": f"ngc://nim/{model}"}],
        "assetInfo": [],
        "licenseInfo": {},
    }
    return Reply(200, [("content-type", JSON)], render_json(body, compact=True))


def health_ready(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``GET /v1/health/ready``: always 200. Invented body (only the status is documented)."""
    return _health("ready")


def health_live(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``GET /v1/health/live``: always 200. Invented body."""
    return _health("live")


def nvcf_status(
    state: EmulatorState, request: Incoming, record: RequestRecord, params: Params
) -> Reply:
    """``GET /v2/nvcf/pexec/status/{reqid}``: 202 while polls remain, then the stored result."""
    models.authenticate(state, record, request.header("authorization"))
    request_id = params["reqid"]
    result = models.stored_result(state, request_id)
    return accepted_reply(request_id) if result is None else result


def replay(state: EmulatorState, request: Incoming, record: RequestRecord) -> Reply:
    """Replay mode, any path: the recorded answer, minus the server's own headers."""
    interaction = models.replay(state, request, record)
    headers = [(k, v) for k, v in interaction.headers if k.lower() not in _DROPPED_REPLAY_HEADERS]
    reply = Reply(interaction.status, headers, interaction.response_body)
    reply.compact = b'", "' not in reply.body and b'": ' not in reply.body
    if reply.status == 200:
        try:
            payload = loads(reply.body)  # bounded: a recorded body nested too deep stays bytes
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("rankings"), list):
            reply.payload = payload
    return reply


def _rankings(
    ranking: Ranking, usage: dict[str, int] | None, *, hosted: bool, request_id: str | None
) -> Reply:
    """200 with ``{"rankings": [...]}``; hosted: Python spacing and the nvcf headers.

    The body is rendered directly; the payload objects are built only if a
    fault asks for them.
    """
    headers = [("content-type", JSON)]
    if hosted and request_id is not None:
        headers += [("nvcf-reqid", request_id), ("nvcf-status", "fulfilled")]
    scores = ranking.scores

    def payload() -> dict[str, Any]:
        built: dict[str, Any] = {"rankings": [{"index": i, "logit": x} for i, x in scores]}
        if usage is not None:
            built["usage"] = usage
        return built

    body = render_rankings(scores, compact=not hosted, usage=usage)
    return Reply(200, headers, body, None, not hosted, payload)


def _captured_rankings(request_id: str) -> Reply:
    """200, the captured hosted answer to the captured hosted request, byte for byte."""
    payload: dict[str, Any] = json.loads(cap.HOSTED_GENERIC_RESPONSE)
    headers = [("content-type", JSON), ("nvcf-reqid", request_id), ("nvcf-status", "fulfilled")]
    return Reply(200, headers, cap.HOSTED_GENERIC_RESPONSE, payload, compact=False)


def _health(state: str) -> Reply:
    body = {"object": "health.response", "message": f"Service is {state}."}
    return Reply(200, [("content-type", JSON)], render_json(body, compact=True))


# ---- the control routes (/_emulator/…) ------------------------------------------------------


def _json(status: int, value: object) -> Reply:
    return Reply(status, [("content-type", JSON)], render_json(value, compact=True))


def _body_json(request: Incoming) -> Any:
    try:
        return loads(request.body)
    except ValueError as exc:
        raise ControlError(400, f"the body must be JSON: {exc}") from None


def list_requests(state: EmulatorState, request: Incoming) -> Reply:
    """``GET /_emulator/requests``: the request log, oldest first."""
    return _json(200, {"requests": [record.to_dict() for record in state.requests]})


def list_faults(state: EmulatorState, request: Incoming) -> Reply:
    """``GET /_emulator/faults``: the armed faults, in the order they are tried."""
    return _json(200, {"faults": [fault.to_dict() for fault in state.faults]})


def arm_faults(state: EmulatorState, request: Incoming) -> Reply:
    """``POST /_emulator/faults``: arm one fault or a list; a bad one arms nothing (400)."""
    data = _body_json(request)
    items = data if isinstance(data, list) else [data]
    try:
        specs = [FaultSpec.from_json(item) for item in items]
    except FaultSpecError as exc:
        raise ControlError(400, str(exc)) from None
    armed = [state.add_fault(spec) for spec in specs]
    return _json(201, {"armed": [fault.to_dict() for fault in armed]})


def clear_faults(state: EmulatorState, request: Incoming) -> Reply:
    """``DELETE /_emulator/faults``: disarm every fault; answers the (empty) list."""
    state.clear_faults()
    return list_faults(state, request)


def reset(state: EmulatorState, request: Incoming) -> Reply:
    """``POST /_emulator/reset``: back to the start-up state."""
    state.reset()
    return _json(200, {"reset": True})


def load_replay(state: EmulatorState, request: Incoming) -> Reply:
    """``POST /_emulator/replay``: replay the cassette in the body (JSON) from its start."""
    try:
        cassette = parse_cassette(loads(request.body), source="POST /_emulator/replay")
    except ValueError as exc:  # CassetteError is a ValueError, and so is bad JSON
        raise ControlError(400, str(exc)) from None
    state.use_cassette(cassette)
    return _json(200, {"replay": True, "interactions": len(cassette.interactions)})


def leave_replay(state: EmulatorState, request: Incoming) -> Reply:
    """``DELETE /_emulator/replay``: emulate again."""
    state.use_cassette(None)
    return _json(200, {"replay": False})


def unused_interactions(state: EmulatorState, request: Incoming) -> Reply:
    """``GET /_emulator/replay/unused``: the cassette's unserved interactions; 409 if none."""
    cassette = state.cassette
    if cassette is None:
        raise ControlError(409, "the emulator is not in replay mode (no cassette)")
    unused = state.unused_interactions()
    total = len(cassette.interactions)
    return _json(
        200,
        {
            "unused": [interaction.summary() for interaction in unused],
            "served": total - len(unused),
            "total": total,
            "cassette": cassette.source,
        },
    )
