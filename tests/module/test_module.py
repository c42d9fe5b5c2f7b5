"""The module (module.go, config.go), its timeout from the environment, and the search result
entity. The settings it reads are tested in test_settings.py."""

from __future__ import annotations

import httpx
import pytest

from reranker_nvidia import ConfigError, RerankerModule
from reranker_nvidia.entities.modulecapabilities.module import ModuleType
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.module import ModuleInitParams, new
from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.usecases.config.environment import module_http_client_timeout_from_environment
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig
from tests.module._support import BOOKS


def test_name_type_and_capabilities() -> None:
    module = new()
    assert module.name() == "reranker-nvidia"
    assert module.type() is ModuleType.TEXT2TEXT_RERANKER
    assert str(module.type()) == "Text2TextReranker"
    assert module.class_config_defaults() == {}
    assert module.property_config_defaults("text") == {}
    assert module.validate_class(BOOKS, None) is None


def test_init_reads_the_key_once_and_the_timeout_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NVIDIA_APIKEY", "env-key")
    monkeypatch.setenv("MODULES_CLIENT_TIMEOUT", "1m30s")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={"rankings": [{"index": 0, "logit": 2.5}]})

    module = RerankerModule()
    module.init(ModuleInitParams.from_environment(transport=httpx.MockTransport(handler)))
    monkeypatch.setenv("NVIDIA_APIKEY", "later")
    assert module.reranker is not None
    assert module.reranker.timeout == 90.0
    assert module.meta_info()["name"] == "Reranker - NVIDIA"

    rerank = module.additional_properties()["rerank"]
    assert rerank.search_functions.explore_get is not None
    ranked = rerank.search_functions.explore_get(
        [SearchResult(schema={"title": "Dune"})], Params(property="title", query="q"), None, None,
        ClassBasedModuleConfig(BOOKS),
    )  # fmt: skip
    assert ranked[0].additional_properties == {"rerank": [RankResult(score=2.5)]}
    assert seen == ["Bearer env-key"]
    module.close()


def test_init_without_params_uses_weaviates_defaults() -> None:
    module = RerankerModule()
    module.init()
    assert module.reranker is not None
    assert module.reranker.timeout == 50.0
    module.close()


def test_an_invalid_timeout_fails_init_with_weaviates_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULES_CLIENT_TIMEOUT", "fifty")
    with pytest.raises(ConfigError) as caught:
        RerankerModule().init()
    assert (
        str(caught.value)
        == 'parse MODULES_CLIENT_TIMEOUT as time.Duration: time: invalid duration "fifty"'
    )


def test_timeout_environment_values() -> None:
    assert module_http_client_timeout_from_environment({}) == 50.0
    assert module_http_client_timeout_from_environment({"MODULES_CLIENT_TIMEOUT": ""}) == 50.0
    assert module_http_client_timeout_from_environment({"MODULES_CLIENT_TIMEOUT": "500ms"}) == 0.5
    assert module_http_client_timeout_from_environment({"MODULES_CLIENT_TIMEOUT": "0"}) == 0.0


def test_an_uninitialised_module_says_so() -> None:
    module = RerankerModule()
    with pytest.raises(Exception, match="call init"):
        module.meta_info()
    with pytest.raises(Exception, match="call init"):
        module.additional_properties()
    module.close()


def test_search_results_round_trip_their_json_shape() -> None:
    value = {"title": "Dune", "_additional": {"id": "abc", "distance": 0.5}}
    result = SearchResult.from_json(value)
    assert result.id == "abc"
    assert result.schema == {"title": "Dune"}
    result.additional_properties["rerank"] = [RankResult(score=1.0)]  # type: ignore[index]
    assert result.to_json() == {
        "title": "Dune",
        "_additional": {"id": "abc", "distance": 0.5, "rerank": [{"score": 1.0}]},
    }
    assert SearchResult.from_json({"t": 1}).to_json() == {"t": 1}
    assert SearchResult.from_json({"_additional": {"id": 3}}).id == ""
    with pytest.raises(TypeError, match="must be an object, not an array"):
        SearchResult.from_json({"_additional": [1]})
    view = SearchResult(schema={"id": "x", "a": 1}).object().properties
    assert (list(view), len(view), "id" in view, view["a"]) == (["a"], 1, False, 1)
    assert SearchResult(schema=None).to_json() == {}


def test_the_module_implements_its_capabilities() -> None:
    # Go's compile-time checks (module.go): var _ = modulecapabilities.Module(New()), …
    from reranker_nvidia.entities.modulecapabilities.additional import AdditionalProperties
    from reranker_nvidia.entities.modulecapabilities.module import MetaProvider, Module

    module = new()
    assert isinstance(module, Module)
    assert isinstance(module, AdditionalProperties)
    assert isinstance(module, MetaProvider)
    assert not isinstance(object(), Module)  # the check can fail


def test_a_bad_key_in_the_environment_names_the_variable_on_the_modules_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reranker_nvidia import InvalidAPIKeyError

    monkeypatch.setenv("NVIDIA_APIKEY", "bad key\n")
    module = RerankerModule()
    module.init(ModuleInitParams.from_environment(transport=httpx.MockTransport(lambda r: None)))  # type: ignore[arg-type,return-value]
    assert module.reranker is not None
    with pytest.raises(InvalidAPIKeyError) as caught:
        module.reranker.rank("q", ["a"], ClassBasedModuleConfig(BOOKS))
    assert "the key from NVIDIA_APIKEY cannot be sent" in str(caught.value)
    assert "api_key argument" not in str(caught.value)
    module.close()


def test_the_modules_client_pickles_without_the_environments_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pickle

    monkeypatch.setenv("NVIDIA_APIKEY", "nvapi-from-the-environment")
    module = RerankerModule()
    module.init(ModuleInitParams.from_environment())
    data = pickle.dumps(module.reranker)
    assert b"nvapi-from-the-environment" not in data
    assert b"SealedKey" not in data  # no masked copy travels either
    monkeypatch.setenv("NVIDIA_APIKEY", "read-where-it-is-unpickled")
    again = pickle.loads(data)
    assert again.api_key.value == "read-where-it-is-unpickled"
    again.close()
    module.close()
