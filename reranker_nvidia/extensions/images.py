"""Image passages for the vision-language rerankers, checked by NIM 2.4's rules (D-EXT-IMAGES).

Python only: Go sends text passages alone. A document is a ``str`` (a text
passage, sent as Go sends it) or a :class:`Passage` with text, an image, or
both. NVIDIA's reranking NIM 2.4 states the rules ("VLM Reranking
Requests"), and they are applied here, before anything is sent:

- a passage has text, an image, or both; an image-only passage omits
  ``text`` rather than sending ``""``;
- an image is a base64 ``data:`` URL, ``data:image/png;base64,…`` or
  ``data:image/jpeg;base64,…``, whose bytes are a PNG or a JPEG image;
- asset ids (``data:image/png;asset_id,…``) and encodings other than base64
  are refused.

Where NVIDIA says nothing, the stricter reading is taken, the same one the
emulator (``nim_emulator.models.image_problem``) takes, and one contract case
decides each rule (``contracts/cases/*/passages-image-rules.json``): the label
must name the bytes' own type (a JPEG-labelled PNG is refused), only
``image/png`` and ``image/jpeg`` are labels (not ``image/jpg``), ``;base64``
ends the parameters (RFC 2397), and a data URL is at most ``MAX_IMAGE_CHARS``
characters, the one size NVIDIA publishes for a passage's string.

A passage that breaks a rule is an :class:`InvalidPassageError` naming its
index in the caller's documents.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidPassageError

__all__ = [
    "IMAGE_TYPES",
    "MAX_IMAGE_CHARS",
    "Passage",
    "has_images",
    "passage_text",
    "wire_passages",
]

IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
"""The media types NIM 2.4 takes, each with the bytes its images start with."""

MAX_IMAGE_CHARS = 14_598_366
"""The longest image data URL sent, in characters: the hosted API reference of
llama-nemotron-rerank-vl-1b-v2 bounds a passage's string at 14,598,366 characters, the one size
NVIDIA publishes (its NIM pages state none); the emulator has the same figure."""

_DATA_URL = re.compile(r"data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<data>.*)", re.DOTALL)
_SHOWN = 40
"""Characters of a refused image shown in the error."""


@dataclass(frozen=True, slots=True)
class Passage:
    """One document for a vision-language reranker: text, an image, or both.

    ``image`` is a base64 ``data:`` URL of a PNG or JPEG image, e.g.
    ``"data:image/png;base64,iVBORw0KGgo…"``.
    """

    text: str | None = None
    image: str | None = None


def passage_text(document: str | Passage) -> str:
    """The text a document's score is reported with (``""`` for an image-only passage)."""
    if isinstance(document, str):
        return document
    return document.text or ""


def has_images(documents: Sequence[str | Passage]) -> bool:
    """Whether any document holds an image."""
    return any(isinstance(d, Passage) and d.image is not None for d in documents)


def wire_passages(documents: Sequence[str | Passage], first_index: int = 0) -> list[dict[str, str]]:
    """The request's ``passages``, each checked; ``first_index`` is the chunk's offset."""
    out: list[dict[str, str]] = []
    for position, document in enumerate(documents):
        if isinstance(document, str):
            out.append({"text": document})
        else:
            out.append(_wire_passage(document, first_index + position))
    return out


def _wire_passage(passage: Passage, index: int) -> dict[str, str]:
    text, image = passage.text, passage.image
    if text is not None and not isinstance(text, str):
        raise InvalidPassageError(
            f"passage {index}: text must be a str, not {type(text).__name__}", index=index
        )
    if image is None:
        if text is None:
            raise InvalidPassageError(
                f"passage {index}: a Passage needs text, an image, or both", index=index
            )
        return {"text": text}
    checked_image(image, index)
    if not text:  # image only: NIM 2.4 wants no text rather than ""
        return {"image": image}
    return {"text": text, "image": image}


def checked_image(image: Any, index: int) -> None:
    """Refuse an image NIM 2.4 would refuse, naming the passage by ``index``."""
    if not isinstance(image, str):
        raise InvalidPassageError(
            f"passage {index}: image must be a data: URL str, not {type(image).__name__}",
            index=index,
        )
    if len(image) > MAX_IMAGE_CHARS:
        raise InvalidPassageError(
            f"passage {index}: the image's data: URL is {len(image)} characters long; "
            f"NIM takes at most {MAX_IMAGE_CHARS}",
            index=index,
        )
    match = _DATA_URL.fullmatch(image)
    if match is None:
        raise InvalidPassageError(
            f"passage {index}: image must be a base64 data: URL "
            f"(data:image/png;base64,… or data:image/jpeg;base64,…), not {_shown(image)}",
            index=index,
        )
    media_type = match["type"].strip().lower()
    params = [p.strip().lower() for p in match["params"].split(";")[1:]]
    if any(p.startswith("asset_id") for p in params):
        raise InvalidPassageError(
            f"passage {index}: asset ids are not supported; send the image itself, "
            "base64-encoded in a data: URL",
            index=index,
        )
    if not params or params[-1] != "base64":  # RFC 2397: ";base64" ends the parameters
        raise InvalidPassageError(
            f"passage {index}: the image's data: URL must be base64-encoded (;base64,)",
            index=index,
        )
    if media_type not in IMAGE_TYPES:
        raise InvalidPassageError(
            f"passage {index}: image type {media_type or '(none)'!r} is not supported; "
            "NIM takes PNG or JPEG (image/png, image/jpeg)",
            index=index,
        )
    try:
        data = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPassageError(
            f"passage {index}: the image's data is not valid base64", index=index
        ) from None
    actual = next((kind for kind, magic in IMAGE_TYPES.items() if data.startswith(magic)), None)
    if actual is None:
        raise InvalidPassageError(
            f"passage {index}: the image's bytes are not a PNG or JPEG image; "
            "NIM takes PNG or JPEG only",
            index=index,
        )
    if actual != media_type:
        raise InvalidPassageError(
            f"passage {index}: the data: URL says {media_type} but the bytes are {actual}",
            index=index,
        )


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")
