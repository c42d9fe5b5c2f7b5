"""The module (module.go, config.go), the settings reader, the class-based config and entities."""

from __future__ import annotations

import httpx
import pytest

from reranker_nvidia import ConfigError, RerankerModule
from reranker_nvidia.entities.config.helpers import enabled
from reranker_nvidia.entities.modulecapabilities.module import ModuleType
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.module import ModuleInitParams, new
from reranker_nvidia.modulecomponents.additional.models.ranker import RankResult
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.modulecomponents.settings.class_settings_property_helper import (
    PropertyValuesHelper,
)
from reranker_nvidia.usecases.config.environment import module_http_client_timeout_from_environment
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig

BOOKS = {
    "class": "Books",
    "moduleConfig": {
        "reranker-nvidia": {"model": "nvidia/rerank-qa-mistral-4b", "baseURL": "http://nim:8000"},
        "text2vec-model2vec": {"vectorizeClassName": False},
    },
    "vectorConfig": {"title_vector": {"vectorizer": {"text2vec-openai": {"model": "m"}}}},
    "properties": [
        {
            "name": "title",
            "dataType": ["text"],
            "moduleConfig": {"reranker-nvidia": {"skip": True}},
        },
        {"name": "year", "dataType": ["int"]},
        {"name": "author", "dataType": ["Author"]},
    ],
}


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


@pytest.mark.parametrize(
    ("value", "on"),
    [("true", True), ("TRUE", True), ("on", True), ("enabled", True), ("1", True),
     ("yes", False), ("0", False), ("", False), ("false", False)],
)  # fmt: skip
def test_enabled_reads_on_off_as_weaviate(value: str, on: bool) -> None:
    assert enabled(value) is on


def test_class_based_config_reads_the_class_definition() -> None:
    cfg = ClassBasedModuleConfig(BOOKS, "reranker-nvidia", "tenant-a")
    assert isinstance(cfg, ClassConfig)
    assert cfg.class_() == BOOKS["moduleConfig"]["reranker-nvidia"]  # type: ignore[index]
    assert cfg.class_by_module_name("text2vec-model2vec") == {"vectorizeClassName": False}
    assert cfg.class_by_module_name("absent") == {}
    assert cfg.tenant() == "tenant-a"
    assert cfg.target_vector() == ""
    assert cfg.property("title") == {"skip": True}
    assert cfg.property("title.nested") == {"skip": True}
    assert cfg.property("year") == {}
    assert cfg.property("missing") == {}
    assert cfg.properties_data_types() == {"title": "text", "year": "int"}
    assert cfg.config() is None
    assert "Books" in repr(cfg)


def test_a_target_vector_reads_that_vectors_vectorizer_config() -> None:
    cfg = ClassBasedModuleConfig(BOOKS, "text2vec-openai", target_vector="title_vector")
    assert cfg.class_() == {"model": "m"}
    assert ClassBasedModuleConfig(BOOKS, "x", target_vector="nope").class_() == {}
    assert ClassBasedModuleConfig(None).class_() == {}
    assert ClassBasedModuleConfig({"moduleConfig": "not a map"}).class_by_module_name("x") == {}


def test_weaviates_empty_module_name_still_finds_the_rerankers_settings() -> None:
    # Weaviate builds the additional properties' config with module name "".
    cfg = ClassBasedModuleConfig(BOOKS, "")
    helper = PropertyValuesHelper("reranker-nvidia")
    assert helper.get_property_as_string(cfg, "baseURL", "default") == "http://nim:8000"


def test_settings_fall_back_to_class_then_to_alternative_names() -> None:
    class Split:
        def __init__(self, by_name: dict[str, dict[str, object]], own: dict[str, object]) -> None:
            self.by_name = by_name
            self.own = own

        def class_(self) -> dict[str, object]:
            return self.own

        def class_by_module_name(self, module_name: str) -> dict[str, object]:
            return self.by_name.get(module_name, {})

    helper = PropertyValuesHelper("reranker-nvidia", alt_names=("reranker-nim",))
    assert helper.get_settings(Split({"reranker-nim": {"model": "alt"}}, {"model": "own"})) == {
        "model": "alt"
    }  # type: ignore[arg-type]
    assert helper.get_settings(Split({}, {"model": "own"})) == {"model": "own"}  # type: ignore[arg-type]
    assert helper.get_settings(Split({"reranker-nvidia": {}}, {"model": "own"})) == {"model": "own"}  # type: ignore[arg-type]
    assert PropertyValuesHelper("").get_settings(Split({"": {"x": 1}}, {"model": "own"})) == {
        "model": "own"
    }  # type: ignore[arg-type]
    assert helper.get_property_as_string(None, "model", "d") == "d"
    assert helper.get_property_as_string_with_not_exists(None, "model", "d", "n") == "n"


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
