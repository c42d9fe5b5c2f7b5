"""The settings: Weaviate's class-based config, the settings reader (GetSettings and its
fallbacks), ``Enabled``, and ``for_settings``, which warns about a key or module name it does not
read."""

from __future__ import annotations

import warnings

import pytest

from reranker_nvidia.entities.config.helpers import enabled
from reranker_nvidia.entities.moduletools.config import ClassConfig
from reranker_nvidia.errors import SettingsWarning
from reranker_nvidia.modulecomponents.settings.class_settings_property_helper import (
    PropertyValuesHelper,
)
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig
from tests.module._support import BOOKS


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


# --------------------------------------------------------------------------
# for_settings: unknown keys and a wrong module name warn; the module name is not typed
# --------------------------------------------------------------------------


def test_for_settings_needs_no_module_name() -> None:
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": "http://127.0.0.1:1"})
    assert cfg.class_by_module_name("reranker-nvidia") == {"baseURL": "http://127.0.0.1:1"}


def test_an_unknown_setting_warns_with_the_nearest_known_one() -> None:
    with pytest.warns(SettingsWarning) as caught:
        ClassBasedModuleConfig.for_settings({"baseUrl": "http://127.0.0.1:1"})
    (warning,) = caught
    assert str(warning.message) == (
        "reranker-nvidia does not read the setting 'baseUrl' (did you mean 'baseURL'?); "
        "it is ignored"
    )
    assert warning.filename == __file__  # it points at the caller's line


def test_a_wrong_module_name_warns_with_the_module_name() -> None:
    with pytest.warns(SettingsWarning, match=r"'reranker-nvidai'.*'reranker-nvidia'"):
        ClassBasedModuleConfig.for_settings("reranker-nvidai", {"baseURL": "http://x"})


def test_known_settings_under_the_module_name_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ClassBasedModuleConfig.for_settings("reranker-nvidia", {"baseURL": "x", "model": "m"})
        ClassBasedModuleConfig.for_settings({"model": "m"})
