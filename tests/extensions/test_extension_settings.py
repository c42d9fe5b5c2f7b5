"""The extensions' settings: keyword arguments and class settings, checked with Go's habits."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

from reranker_nvidia.errors import ConfigError
from reranker_nvidia.extensions.settings import (
    CLASS_KEYS,
    ENDPOINTS,
    SETTINGS,
    TRUNCATE_TYPES,
    call_settings,
    checked_keywords,
    class_values,
    setting,
)
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig


def cfg(settings: dict[str, Any]) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings(settings)


def checked(**values: Any) -> dict[str, Any]:
    """Keyword arguments checked by their rows, as the clients check theirs (defaults kept)."""
    own = {name: value for name, value in values.items() if not setting(name).client_field}
    fields = {
        name: setting(name).check(name, value, repr(value))
        for name, value in values.items()
        if setting(name).client_field
    }
    return {**call_settings({}, None), **checked_keywords(own), **fields}


def test_the_defaults_are_gos() -> None:
    assert call_settings({}, None) == checked()
    assert call_settings({}, None) == dict(
        base_url=None,
        model=None,
        endpoint="retrieval",
        truncate=None,
        retries=0,
        requests_per_minute=None,
        max_documents=512,
        max_concurrency=None,
        wait_ready=None,
        on_error="raise",
        score_transform="raw",
        min_score=None,
        usage=False,
        trace="off",
        cache=None,
    )
    assert checked_keywords({"endpoint": "retrieval", "retries": 0, "truncate": None}) == {}
    assert ENDPOINTS[0] == "retrieval"
    assert TRUNCATE_TYPES == ("NONE", "END")


def test_every_class_setting_key_is_known_to_for_settings() -> None:
    settings = {key: None for key in CLASS_KEYS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg({**settings, "model": "m", "baseURL": "http://x"})
    assert tuple(row.key for row in SETTINGS if not row.go_key) == CLASS_KEYS
    assert [row.key for row in SETTINGS if row.go_key] == ["baseURL", "model"]
    assert set(CLASS_KEYS) == {
        "endpoint",
        "truncate",
        "retries",
        "requestsPerMinute",
        "maxDocuments",
        "maxConcurrency",
        "waitReady",
        "onError",
        "scoreTransform",
        "minScore",
        "usage",
        "trace",
        "cache",
    }


def test_good_keyword_arguments() -> None:
    got = checked(
        endpoint="ranking",
        truncate="END",
        retries=3,
        requests_per_minute=40,
        max_documents=100,
        max_concurrency=2,
        wait_ready=1.5,
    )
    go_s = [None, None, "ranking", "END", 3, 40.0, 100, 2, 1.5]
    assert list(got.values()) == [*go_s, "raise", "raw", None, False, "off", None]
    assert isinstance(got["requests_per_minute"], float)


def test_a_class_setting_wins_over_the_keyword_argument() -> None:
    client = checked_keywords({"endpoint": "model", "retries": 1, "requests_per_minute": 10})
    got = call_settings(client, cfg({"endpoint": "auto", "retries": 4, "requestsPerMinute": 600}))
    assert (got["endpoint"], got["retries"], got["requests_per_minute"]) == ("auto", 4, 600.0)
    assert client["endpoint"] == "model"  # the client's own settings are not changed


def test_no_config_null_and_absent_settings_keep_the_client_settings() -> None:
    client = checked_keywords({"retries": 2, "truncate": "NONE"})
    alone = call_settings(client, None)
    assert (alone["retries"], alone["truncate"]) == (2, "NONE")
    assert call_settings(client, cfg({})) == alone
    assert call_settings(client, cfg({"model": "m"})) == alone
    assert call_settings(client, cfg({"retries": None, "truncate": None})) == alone


def test_json_numbers_arrive_as_float_and_are_read_as_whole_numbers() -> None:
    got = class_values(cfg({"retries": 3.0, "maxDocuments": 64.0, "maxConcurrency": 2.0}))
    assert (got["retries"], got["max_documents"], got["max_concurrency"]) == (3, 64, 2)
    assert all(isinstance(v, int) for v in got.values())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"requestsPerMinute": "ten"},
            'requestsPerMinute must be a number greater than 0, not "ten"',
        ),
        (
            {"requestsPerMinute": "40"},
            'requestsPerMinute must be a number greater than 0, not "40"',
        ),
        ({"requestsPerMinute": 0}, "requestsPerMinute must be a number greater than 0, not 0"),
        (
            {"requestsPerMinute": -1.5},
            "requestsPerMinute must be a number greater than 0, not -1.5",
        ),
        (
            {"requestsPerMinute": True},
            "requestsPerMinute must be a number greater than 0, not true",
        ),
        ({"waitReady": "soon"}, 'waitReady must be a number greater than 0, not "soon"'),
        ({"waitReady": 0}, "waitReady must be a number greater than 0, not 0"),
        ({"retries": True}, "retries must be a whole number, not true"),
        ({"retries": "3"}, 'retries must be a whole number, not "3"'),
        ({"retries": 1.5}, "retries must be a whole number, not 1.5"),
        ({"retries": -1}, "retries must be 0 or more, not -1"),
        ({"maxDocuments": 0}, "maxDocuments must be at least 1, not 0"),
        (
            {"maxDocuments": 513},
            "maxDocuments must be at most 512 (the most passages NIM takes in one request), "
            "not 513",
        ),
        ({"maxDocuments": "512"}, 'maxDocuments must be a whole number, not "512"'),
        ({"maxConcurrency": 0}, "maxConcurrency must be at least 1, not 0"),
        ({"maxConcurrency": False}, "maxConcurrency must be a whole number, not false"),
        (
            {"endpoint": "Ranking"},
            'endpoint must be one of [retrieval model ranking rerank auto], not "Ranking"',
        ),
        ({"endpoint": 1}, "endpoint must be one of [retrieval model ranking rerank auto], not 1"),
        ({"truncate": "START"}, "wrong truncate type, available types are: [NONE END]"),
        ({"truncate": "end"}, "wrong truncate type, available types are: [NONE END]"),
        ({"truncate": 1}, "wrong truncate type, available types are: [NONE END]"),
    ],
)
def test_a_bad_class_setting_is_one_config_error_line(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        class_values(cfg(settings))
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"requests_per_minute": math.inf}, "requests_per_minute must be a number greater than 0"),
        ({"requests_per_minute": math.nan}, "requests_per_minute must be a number greater than 0"),
        ({"requests_per_minute": "10"}, "requests_per_minute must be a number greater than 0"),
        ({"wait_ready": -1}, "wait_ready must be a number greater than 0, not -1"),
        ({"retries": True}, "retries must be a whole number, not True"),
        ({"max_documents": 0}, "max_documents must be at least 1, not 0"),
        ({"max_documents": 1000}, "max_documents must be at most 512"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1, not 0"),
        (
            {"endpoint": "gateway"},
            r"endpoint must be one of \[retrieval model ranking rerank auto\]",
        ),
        ({"truncate": "START"}, r"wrong truncate type, available types are: \[NONE END\]"),
    ],
)
def test_a_bad_keyword_argument_is_a_config_error_naming_it(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        checked(**values)


def test_an_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="'retry'"):
        checked_keywords({"retry": 1})


def test_settings_in_the_class_when_the_module_has_none_are_read_as_go_reads_them() -> None:
    # Go's GetSettings: the module's own settings, else the class's top level.
    class Flat:
        def class_(self) -> dict[str, Any]:
            return {"retries": 2}

        def class_by_module_name(self, name: str) -> dict[str, Any]:
            return {}

    got = class_values(Flat())  # type: ignore[arg-type]
    assert got["retries"] == 2
