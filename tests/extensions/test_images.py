"""Image passages (D-EXT-IMAGES): NIM 2.4's rules, applied before anything is sent."""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any

import httpx
import pytest

from reranker_nvidia import (
    AsyncClient,
    ClassBasedModuleConfig,
    Client,
    ConfigError,
    InvalidPassageError,
    Passage,
)

# The image rules' module, wherever Passage lives (found through it, not by its path).
RULES = importlib.import_module(Passage.__module__)
IMAGE_TYPES = RULES.IMAGE_TYPES
MAX_IMAGE_CHARS: int = RULES.MAX_IMAGE_CHARS

BASE = "http://nim.test"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"\x00" * 16
PNG = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()
JPEG = "data:image/jpeg;base64," + base64.b64encode(JPEG_BYTES).decode()
GIF = "data:image/gif;base64," + base64.b64encode(b"GIF89a" + b"\x00" * 8).decode()


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        count = len(body["passages"])
        return httpx.Response(
            200, json={"rankings": [{"index": i, "logit": i} for i in range(count)]}
        )


def cfg() -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings(
        {"baseURL": BASE, "model": "nvidia/llama-nemotron-rerank-vl-1b-v2"}
    )


def sent(documents: list[Any], **kwargs: Any) -> tuple[Recorder, list[str]]:
    recorder = Recorder()
    with Client("k", transport=httpx.MockTransport(recorder), **kwargs) as client:
        result = client.rank("q", documents, cfg())
    return recorder, [s.document for s in result.document_scores]


def test_text_and_image_passages_follow_nim_2_4s_shape() -> None:
    recorder, texts = sent(
        ["plain", Passage(text="caption", image=PNG), Passage(image=JPEG), Passage(text="t")]
    )
    assert recorder.bodies[0]["passages"] == [
        {"text": "plain"},
        {"text": "caption", "image": PNG},
        {"image": JPEG},  # image only: no "text" at all, not ""
        {"text": "t"},
    ]
    assert texts == ["plain", "caption", "", "t"]


def test_an_empty_text_beside_an_image_is_omitted() -> None:
    recorder, _ = sent([Passage(text="", image=PNG)])
    assert recorder.bodies[0]["passages"] == [{"image": PNG}]


def test_text_only_documents_are_sent_as_go_sends_them() -> None:
    recorder, _ = sent(["a", ""])
    assert recorder.bodies[0] == {
        "model": "nvidia/llama-nemotron-rerank-vl-1b-v2",
        "query": {"text": "q"},
        "passages": [{"text": "a"}, {"text": ""}],
    }


@pytest.mark.parametrize(
    ("passage", "message"),
    [
        (Passage(), "passage 1: a Passage needs text, an image, or both"),
        (Passage(image=GIF), "passage 1: image type 'image/gif' is not supported"),
        (Passage(image="https://x.test/a.png"), "passage 1: image must be a base64 data: URL"),
        (
            Passage(image="data:image/png;asset_id,5f2c"),
            "passage 1: asset ids are not supported",
        ),
        (
            Passage(image="data:image/png,rawbytes"),
            "passage 1: the image's data: URL must be base64",
        ),
        (Passage(image="data:image/png;base64,@@@@"), "passage 1: the image's data is not valid"),
        (
            Passage(image="data:image/png;base64," + base64.b64encode(b"GIF89a").decode()),
            "passage 1: the image's bytes are not a PNG or JPEG image",
        ),
        (
            Passage(image="data:image/png;base64," + base64.b64encode(JPEG_BYTES).decode()),
            "passage 1: the data: URL says image/png but the bytes are image/jpeg",
        ),
        (
            Passage(image="data:image/jpeg;base64," + base64.b64encode(PNG_BYTES).decode()),
            "passage 1: the data: URL says image/jpeg but the bytes are image/png",
        ),
        (
            Passage(image="data:image/jpg;base64," + base64.b64encode(JPEG_BYTES).decode()),
            "passage 1: image type 'image/jpg' is not supported",
        ),
        (
            Passage(image="data:image/png;base64;charset=utf-8," + PNG.partition(",")[2]),
            "passage 1: the image's data: URL must be base64-encoded (;base64,)",
        ),
        (
            Passage(image="data:image/png;base64;," + PNG.partition(",")[2]),
            "passage 1: the image's data: URL must be base64-encoded (;base64,)",
        ),
        (Passage(text=3, image=PNG), "passage 1: text must be a str, not int"),  # type: ignore[arg-type]
        (Passage(image=b"bytes"), "passage 1: image must be a data: URL str, not bytes"),  # type: ignore[arg-type]
    ],
)
def test_a_passage_nim_would_refuse_is_refused_before_sending(
    passage: Passage, message: str
) -> None:
    recorder = Recorder()
    with (
        Client("k", transport=httpx.MockTransport(recorder)) as client,
        pytest.raises(InvalidPassageError) as caught,
    ):
        client.rank("q", ["fine", passage], cfg())
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert caught.value.index == 1
    assert isinstance(caught.value, ConfigError)
    assert recorder.bodies == []


def test_a_bad_passage_in_a_later_chunk_is_named_by_its_index_and_nothing_is_sent() -> None:
    recorder = Recorder()
    with (
        Client("k", transport=httpx.MockTransport(recorder), max_documents=2) as client,
        pytest.raises(InvalidPassageError, match=r"^passage 4: image type 'image/gif'") as e,
    ):
        client.rank("q", ["a", "b", "c", "d", Passage(image=GIF)], cfg())
    assert e.value.index == 4
    assert recorder.bodies == []


def test_passages_in_chunks_keep_their_order() -> None:
    recorder, texts = sent(
        [Passage(text=f"p{i}", image=PNG) for i in range(5)], max_documents=2, max_concurrency=1
    )
    assert [len(b["passages"]) for b in recorder.bodies] == [2, 2, 1]
    assert texts == [f"p{i}" for i in range(5)]


def test_another_type_is_still_a_type_error() -> None:
    with (
        Client("k", transport=httpx.MockTransport(Recorder())) as client,
        pytest.raises(TypeError, match=r"^documents\[1\] must be a str, not dict"),
    ):
        client.rank("q", ["a", {"text": "b"}], cfg())  # type: ignore[list-item]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_async_client_takes_passages_too(anyio_backend: str) -> None:
    recorder = Recorder()
    async with AsyncClient("k", transport=httpx.MockTransport(recorder)) as client:
        result = await client.rank("q", [Passage(image=PNG), "t"], cfg())
        with pytest.raises(InvalidPassageError):
            await client.rank("q", [Passage(image=GIF)], cfg())
    assert recorder.bodies[0]["passages"] == [{"image": PNG}, {"text": "t"}]
    assert [s.score for s in result.document_scores] == [0.0, 1.0]
    assert len(recorder.bodies) == 1


def test_passage_is_frozen() -> None:
    passage = Passage(text="a")
    with pytest.raises(AttributeError):
        passage.text = "b"  # type: ignore[misc]


def padded_png(length: int) -> str:
    """A PNG data URL of exactly ``length`` characters (PNG bytes, then zeros)."""
    prefix = "data:image/png;base64,"
    payload = base64.b64encode(PNG_BYTES + b"\x00" * (3 * (length - len(prefix)) // 4)).decode()
    image = prefix + payload[: length - len(prefix)]
    assert len(image) == length and (length - len(prefix)) % 4 == 0
    return image


def test_an_image_over_the_size_limit_is_refused_before_sending() -> None:
    too_long = padded_png(MAX_IMAGE_CHARS + 4)
    recorder = Recorder()
    with (
        Client("k", transport=httpx.MockTransport(recorder)) as client,
        pytest.raises(InvalidPassageError) as caught,
    ):
        client.rank("q", [Passage(image=too_long)], cfg())
    assert str(caught.value) == (
        f"passage 0: the image's data: URL is {MAX_IMAGE_CHARS + 4} characters long; "
        "NIM takes at most 14598366"
    )
    assert recorder.bodies == []


def test_an_image_at_the_size_limit_is_sent() -> None:
    recorder, _ = sent([Passage(image=padded_png(MAX_IMAGE_CHARS))])
    assert len(recorder.bodies[0]["passages"][0]["image"]) == MAX_IMAGE_CHARS


def test_the_client_and_the_emulator_share_the_image_figures() -> None:
    # The two sides cannot import each other; the contract cases decide each rule, and this
    # keeps the two figures the size rule rests on (no case can hold a 14.6 MB image) equal.
    emulator = pytest.importorskip("nim_emulator.models")
    assert emulator.MAX_IMAGE_CHARS == MAX_IMAGE_CHARS == 14_598_366
    assert emulator.IMAGE_TYPES == IMAGE_TYPES
