"""Property 6: Go's type switch on ``model`` and ``baseURL``.

A string, ``""`` included, is used as given; a missing or null value, any other
JSON type, or no config at all gives the default.
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import (
    DEFAULT_BASE_URL,
    DEFAULT_NVIDIA_MODEL,
    ClassBasedModuleConfig,
    ClassSettings,
    Client,
)
from reranker_nvidia.errors import SettingsWarning
from tests.property._support import PROPERTY, RERANKING_PATH, Recorder, json_response, json_values
from tests.support.fakes import FakeClassConfig

MISSING = object()

SETTING_VALUES = st.one_of(
    st.just(MISSING),
    st.none(),
    st.just(""),
    st.text(max_size=30),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(json_values(4), max_size=3),
    st.dictionaries(st.text(max_size=5), json_values(4), max_size=3),
    st.sampled_from([[], {}, 0, 0.0, False, [""], {"": ""}]),
)


def settings_map(model: object, base_url: object, noise: dict[str, Any]) -> dict[str, Any]:
    out = dict(noise)
    if model is not MISSING:
        out["model"] = model
    if base_url is not MISSING:
        out["baseURL"] = base_url
    return out


def expected(value: object, default: str) -> str:
    return value if isinstance(value, str) else default


def config(kind: str, values: dict[str, Any]) -> Any:
    if kind == "class-based":
        with warnings.catch_warnings():  # the look-alike keys warn: SettingsWarning
            warnings.simplefilter("ignore", SettingsWarning)
            return ClassBasedModuleConfig.for_settings("reranker-nvidia", values)
    return FakeClassConfig(values)


NOISE = st.dictionaries(
    # Keys the module does not read. (``truncate`` was one; it is now an opt-in setting,
    # D-EXT-TRUNCATE, whose bad values are refused: tests/extensions/test_extension_settings.py.)
    st.sampled_from(["Model", "baseUrl", "base_url", "Truncate", "other"]),
    json_values(3),
)
CONFIG_KINDS = st.sampled_from(["class-based", "fake"])


# 500 examples: pure reads (microseconds). The value space is small (9 JSON
# kinds plus "missing", for two keys, in two config implementations, next to
# look-alike keys that must be ignored), so 500 visits every kind pair often.
@settings(PROPERTY, max_examples=500)
@given(SETTING_VALUES, SETTING_VALUES, NOISE, CONFIG_KINDS)
def test_a_string_is_used_as_given_anything_else_gives_the_default(
    model: object, base_url: object, noise: dict[str, Any], kind: str
) -> None:
    class_settings = ClassSettings(config(kind, settings_map(model, base_url, noise)))
    assert class_settings.model() == expected(model, DEFAULT_NVIDIA_MODEL)
    assert class_settings.base_url() == expected(base_url, DEFAULT_BASE_URL)


def test_no_config_gives_the_defaults() -> None:
    assert ClassSettings(None).model() == DEFAULT_NVIDIA_MODEL
    assert ClassSettings(None).base_url() == DEFAULT_BASE_URL


HOSTS = st.from_regex(r"[a-z][a-z0-9]{0,8}\.example", fullmatch=True)
BASE_URLS = st.one_of(
    st.builds("https://{}".format, HOSTS),
    st.just(MISSING),
    st.none(),
    st.booleans(),
    st.integers(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


# 200 examples through the client: the request the fake server receives carries
# the model the rule picks and goes to the base URL the rule picks (cfg=None too).
@settings(PROPERTY, max_examples=200)
@given(SETTING_VALUES, BASE_URLS, NOISE, st.one_of(CONFIG_KINDS, st.none()))
def test_the_request_uses_the_chosen_model_and_base_url(
    model: object, base_url: object, noise: dict[str, Any], kind: str | None
) -> None:
    server = Recorder(lambda body: json_response(200, {"rankings": [{"index": 0, "logit": 1.0}]}))
    cfg = None if kind is None else config(kind, settings_map(model, base_url, noise))
    with Client("k", transport=server.transport()) as client:
        client.rank("q", ["a"], cfg)
    (request,) = server.requests
    if cfg is None:
        model, base_url = MISSING, MISSING
    assert server.bodies[0]["model"] == expected(model, DEFAULT_NVIDIA_MODEL)
    assert request.url == httpx.URL(expected(base_url, DEFAULT_BASE_URL) + RERANKING_PATH)
