"""Real NVIDIA payloads, copied byte for byte from the repository's capture folder.

Each constant names the file it was copied from (under ``contracts/captures/``;
the emulator never reads that folder at run time) and the public source that
``contracts/captures/SOURCES.md`` gives for it. Nothing in this module is
invented: bodies the emulator has to make up live in ``exceptions.py`` and
``responses.py`` and are labelled there as inferred or invented.

Trailing newlines: the capture files all end in ``\\n``. Where the wire bytes
are known to carry it, the constant keeps it: the 410 capture's
``content-length: 167`` counts a 166-byte JSON text plus ``\\n``, so NVIDIA's
problem-details bodies end in ``\\n``: the 403 and 429 bodies, from the same gateway,
keep the ``\\n`` of their files, and the 502 body (reported publicly, no file)
gets one by the same inference; ``404 page not
found\\n`` is 19 bytes on the wire. The 401 text is an axum rejection message,
which has no newline (the NVCF source literal and the capture agree). The success
body was saved by a Python script; its final ``\\n`` is treated as the file's,
not the wire's.
"""

from __future__ import annotations

from typing import Final

# errors/401_missing_auth_header_plain-text.txt — diegosouzapw/OmniRoute issue #6242; the same
# literal is in NVIDIA/nvcf .../http-invocation/crates/server/src/middleware/auth.rs (2026-07-05).
# Real message; text/plain. The file's final newline is not part of the literal.
MISSING_AUTH_401: Final = b"Header of type `authorization` was missing"

# errors/401_malformed_bearer_GenerativeAIExamples-135.txt — NVIDIA/GenerativeAIExamples issue #135
# (2024-06-14). Captured: status 401 and the three WWW-Authenticate parameters, one a line as a
# client library printed them. Inferred: joining them with ", " (RFC 6750 syntax).
MALFORMED_BEARER_WWW_AUTHENTICATE: Final = (
    'Bearer error="invalid_token", error_description="Bearer token is malformed", '
    'error_uri="https://tools.ietf.org/html/rfc6750#section-3.1"'
)

# errors/403_forbidden_integrate_oh-my-pi-499.json — can1357/oh-my-pi issue #499 (2026-03-21; the
# same body in HKUDS/OpenHarness #233 and dmMaze/BallonsTranslator #1233). Real body.
FORBIDDEN_403: Final = b'{"status":403,"title":"Forbidden","detail":"Authorization failed"}\n'

# errors/404_unknown_path.body.txt — NVIDIA-AI-Blueprints/rag issue #7 (2025-01-30). Real body:
# 19 bytes, text/plain.
NOT_FOUND_404: Final = b"404 page not found\n"

# errors/404_unknown_path_text-plain_rag-7.txt — same issue; the response headers as printed by
# langchain-nvidia-ai-endpoints (Date, Content-Length and Connection are set by the server).
NOT_FOUND_404_HEADERS: Final = (
    ("content-type", "text/plain; charset=utf-8"),
    ("vary", "Origin"),
    ("x-content-type-options", "nosniff"),
)

# errors/404_function_not_found_integrate_freellmapi-634.json — tashfeenahmed/freellmapi issue
# #634 (2026-07-28; the same text in NVIDIA-AI-Blueprints/rag issue #44,
# errors/404_function_not_found_ai.api_rag-44.json). Real body, compact; the function id and the
# account id are the variable parts. The final newline follows the gateway's other
# problem-details bodies (module docstring).
FUNCTION_NOT_FOUND_404_TEMPLATE: Final = (
    '{{"status":404,"title":"Not Found","detail":"Function \'{function}\': '
    "Not found for account '{account}'\"}}\n"
)

# errors/404_unknown_model_generic-reranking_fieldnote.txt — public GitHub file (repository not
# identified), POST https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking with an unknown model.
# Real message text only: the envelope around it was NOT captured (exceptions.UnknownModelError).
GENERIC_ROUTE_AVAILABLE_MODELS: Final = (
    "Available models are: ['nvidia/rerank-qa-mistral-4b', 'nv-rerank-qa-mistral-4b:1']"
)

# errors/410_gone_integrate_models.dev-3000.http — anomalyco/models.dev pull request #3000
# (2026-07-02, curl -i): real headers and body. Body template; the model id and the RFC 3339 end
# of life are the two variable parts (compare errors/410_gone_integrate_NemoClaw-11902.json).
GONE_410_TEMPLATE: Final = (
    '{{"type":"about:blank","title":"Gone","status":410,"detail":"The model \'{model}\' has '
    'reached its end of life on {eol} and is no longer available."}}\n'
)
# Same file: the headers besides date and content-length.
GONE_410_HEADERS: Final = (
    ("content-type", "application/problem+json"),
    ("vary", "Origin"),
)

# errors/429_too_many_requests_integrate_free-claude-code-690.json — Alishahryar1/free-claude-code
# issue #690 (2026-06-03; also #30, #1485). Real body; no Retry-After header was reported.
TOO_MANY_REQUESTS_429: Final = b'{"status":429,"title":"Too Many Requests"}\n'

# Reported publicly as the body seen with a 502 from NVIDIA's gateway. There is no file for it in
# contracts/captures/ and SOURCES.md does not itemise its origin. The final newline is inferred from
# the gateway's other problem-details bodies (see the module docstring).
BAD_GATEWAY_502: Final = (
    b'{"type":"about:blank","title":"Bad Gateway","status":502,'
    b'"detail":"Upstream request failed."}\n'
)

# errors/422_validation_nvcf-problem-details_garak-748.reconstructed.json — NVIDIA/garak issue
# #748 (2024-06-19), a chat model on integrate.api.nvidia.com. Real field names, values and order;
# the JSON text itself was reconstructed by hand from a Python dict print. Only the constants of
# that envelope are kept here; see exceptions.HostedValidationError.
VALIDATION_422_TYPE: Final = "urn:inference-service:problem-details:unprocessable-entity"
VALIDATION_422_TITLE: Final = "Unprocessable Entity"

# errors/400_native_ranking_unknown_field_litellm-34165.txt — BerriAI/litellm issue #34165
# (2026-07-21): a self-hosted /v1/ranking rejecting top_k. Real message (envelope not quoted).
SELF_HOSTED_UNKNOWN_FIELD_TEMPLATE: Final = (
    "{field}: unknown field, expected one of model, query, passages, truncate"
)

# errors/422_selfhosted_token_overflow_langchain-nvidia-PR299.txt (langchain-ai/langchain-nvidia
# PR #299, 2026-05-07) and errors/400_selfhosted_token_overflow_nim-anywhere-58.log
# (NVIDIA/nim-anywhere issue #58, 2024-10-25). Real message text; the PR also shows the first two
# keys of the self-hosted envelope: {"object":"error","message":...,...}.
LENGTH_OVERFLOW_TEMPLATE: Final = "Input length {length} exceeds maximum allowed token size {limit}"

# success/hosted_generic-reranking_rerank-qa-mistral-4b.request.json / .response.json — public
# GitHub file "NVIDIA API Verification Report" (repository not identified), POST
# https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking. Real capture, FP16-exact logits.
# The emulator answers exactly this request with exactly these bytes (see models.rank_hosted).
HOSTED_GENERIC_REQUEST: Final = {
    "model": "nvidia/rerank-qa-mistral-4b",
    "query": {"text": "What are the library hours?"},
    "passages": [{"text": "Cafeteria 8-8."}, {"text": "Library 9-10."}],
}
HOSTED_GENERIC_RESPONSE: Final = (
    b'{"rankings": [{"index": 1, "logit": -4.1015625}, {"index": 0, "logit": -12.28125}]}'
)

# nvidia-docs/v1-models.example.response.json — docs.nvidia.com .../text-reranking/latest/
# use-the-api-openai.html. Published example of GET /v1/models on a self-hosted NIM: the shape
# {"object": "list", "data": [{"id": <model>}]} (the page pretty-prints it; the emulator sends
# it compact, like the curl-captured /v1/ranking body).
MODELS_LIST_OBJECT: Final = "list"
