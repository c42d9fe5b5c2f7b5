"""NIM 2.4's image rules in the emulator, decided by the same contract cases as the client's.

``contracts run`` checks the client against every ``passages`` and ``passages-image-rules``
case; this file sends each case's passages to the emulator, emulating (not replaying), and
requires the same verdict: a valid case's request is answered 200, an invalid case's passages
are refused, naming the passage the client names. So the two sides cannot drift apart again
(a data URL labelled image/jpeg holding PNG bytes was accepted here and refused by the client).
The size rule has no case (a case would hold a 14.6 MB image): it is pinned below, and the
client's figure is checked against the emulator's in tests/extensions/test_images.py.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from nim_emulator import EmulatorConfig, create_app
from nim_emulator._catalogue import model_path
from nim_emulator.models import MAX_IMAGE_CHARS, image_problem
from reranker_contracts.suite import substitute

from ._support import AUTH

pytestmark = pytest.mark.anyio

CASES = Path(__file__).resolve().parents[2] / "contracts" / "cases"
AREAS = ("passages", "passages-image-rules")
VL = "nvidia/llama-nemotron-rerank-vl-1b-v2"


def load(validity: str) -> list[dict[str, Any]]:
    """The cases, their placeholders expanded as the runner expands them (``{{padding:N}}``)."""
    cases: list[dict[str, Any]] = []
    for area in AREAS:
        cases += json.loads((CASES / validity / f"{area}.json").read_text())["cases"]
    return [{**case, "input": substitute(case["input"], "{{base}}")} for case in cases]


VALID = load("valid")
INVALID = load("invalid")


def route(settings: dict[str, str]) -> tuple[str, str]:
    """The path an invalid case's settings name, and the model (every one names both)."""
    model = settings["model"]
    if settings.get("endpoint") == "model":
        return f"/v1/retrieval/nvidia/{model_path(model)}/reranking", model
    assert settings.get("endpoint") == "ranking", settings
    return "/v1/ranking", model


async def post(path: str, model: str, payload: object) -> httpx.Response:
    app = create_app(EmulatorConfig(self_hosted_model=model, scoring="hash"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emu.test") as client:
        return await client.post(path, json=payload, headers=AUTH)


def test_the_cases_cover_each_image_rule() -> None:
    ids = {case["id"] for case in VALID + INVALID}
    for rule in (
        "passages-image-rules/a-jpeg-labelled-png-is-refused",
        "passages-image-rules/a-png-labelled-jpeg-is-refused",
        "passages-image-rules/an-unknown-type-is-refused",
        "passages-image-rules/bad-base64-is-refused",
        "passages-image-rules/an-image-over-the-size-limit-is-refused",
        "passages-image-rules/a-jpeg-labelled-jpeg-is-sent",
    ):
        assert rule in ids


@pytest.mark.parametrize("case", VALID, ids=[case["id"] for case in VALID])
async def test_the_emulator_answers_what_the_client_sends_for_a_valid_case(
    case: dict[str, Any],
) -> None:
    assert case["expect"]["requests"], case["id"]
    for sent in case["expect"]["requests"]:
        path = sent["url"].removeprefix("{{base}}")
        model = sent["json"]["model"]
        response = await post(path, model, sent["json"])
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", INVALID, ids=[case["id"] for case in INVALID])
async def test_the_emulator_refuses_the_passage_the_client_refuses(case: dict[str, Any]) -> None:
    path, model = route(case["input"]["settings"])
    passages = [
        {"text": document} if isinstance(document, str) else document
        for document in case["input"]["documents"]
    ]
    payload = {"model": model, "query": {"text": case["input"]["query"]}, "passages": passages}
    found = re.match(r"passage (\d+): ", case["expect"]["error"]["message"])
    assert found is not None, case["id"]
    index = int(found.group(1))
    response = await post(path, model, payload)
    if path == "/v1/ranking":
        assert response.status_code == 400, response.text
        said = response.json()["message"]
        assert said.startswith(f"passages[{index}]")
    else:
        assert response.status_code == 422, response.text
        said = response.json()["detail"]
        assert said.startswith(f"body -> passages -> {index}")
    if "size-limit" in case["id"]:  # refused for its size, not for a placeholder left in it
        assert "characters long" in said, said


def png_url(length: int) -> str:
    """A PNG data URL of exactly ``length`` characters (the PNG signature, then zeros)."""
    prefix = "data:image/png;base64,"
    raw = b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * (length - len(prefix)) // 4)
    image = prefix + base64.b64encode(raw).decode()[: length - len(prefix)]
    assert len(image) == length
    return image


@pytest.mark.parametrize(("extra", "status"), [(0, 200), (4, 400)])
async def test_an_image_over_the_size_limit_is_refused(extra: int, status: int) -> None:
    # The hosted API reference of llama-nemotron-rerank-vl-1b-v2 bounds a passage's string at
    # 14,598,366 characters; no NIM page gives an image size, so the bound applies everywhere.
    image = png_url(MAX_IMAGE_CHARS + extra)
    payload = {"model": VL, "query": {"text": "q"}, "passages": [{"image": image}]}
    response = await post("/v1/ranking", VL, payload)
    assert response.status_code == status
    if status == 400:
        assert response.json()["message"] == (
            "passages[0].image: Value error, image is 14598370 characters long; "
            "at most 14598366 are taken"
        )


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (
            "data:image/jpeg;base64,iVBORw0KGgoAAAAA",
            "the data URL says image/jpeg but the image bytes are image/png",
        ),
        (
            "data:image/png;base64,/9j/4AAQ",
            "the data URL says image/png but the image bytes are image/jpeg",
        ),
        ("data:image/jpg;base64,/9j/4AAQ", "only PNG and JPEG images are supported, not image/jpg"),
        ("data:image/png;base64,iVBORw0KGgo", "image is not valid base64"),
        ("data:image/png;base64;x=y,iVBORw0KGgoAAAAA", "image must be base64-encoded"),
        ("data:image/png;base64,iVBORw0KGgoAAAAA", None),
        ("data:IMAGE/PNG;BASE64,iVBORw0KGgoAAAAA", None),
    ],
)
def test_image_problem_words_each_rule(image: str, problem: str | None) -> None:
    found = image_problem(image)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)
