"""Twin of modules/reranker-nvidia/config/class_settings_test.go, case by case.

Go resolves the public hosts of the SSRF table with real DNS; here a fake
resolver answers with public addresses, so no test needs the network.
"""

from __future__ import annotations

import pytest

from reranker_nvidia.config.class_settings import ClassSettings
from reranker_nvidia.errors import BaseURLError
from tests.support.dns import FakeResolver
from tests.support.fakes import FakeClassConfig


@pytest.mark.parametrize(
    ("name", "class_config", "want_model"),
    [
        ("default settings", {}, "nvidia/rerank-qa-mistral-4b"),
        ("custom settings", {"model": "custom-model"}, "custom-model"),
    ],
)
def test_class_settings_validate(name: str, class_config: dict[str, str], want_model: str) -> None:
    del name
    ic = ClassSettings(FakeClassConfig(class_config))
    assert ic.model() == want_model


@pytest.mark.parametrize(
    ("name", "base_url", "want_err"),
    [
        ("valid HTTPS URL", "https://api.openai.com", False),
        ("HTTP URL is rejected", "http://api.example.com", True),
        ("loopback address is rejected", "https://127.0.0.1", True),
        ("private network address is rejected", "https://192.168.1.1", True),
        ("empty host is rejected", "https://", True),
        ("localhost is rejected", "https://localhost", True),
        ("local domain is rejected", "https://myhost.local", True),
        ("default URL is valid", "https://ai.api.nvidia.com", False),
    ],
)
def test_class_settings_validate_base_url(
    monkeypatch: pytest.MonkeyPatch, name: str, base_url: str, want_err: bool
) -> None:
    del name
    monkeypatch.setenv("MODULES_VALIDATE_BASE_URL", "true")
    ic = ClassSettings(FakeClassConfig({"baseURL": base_url}))
    if want_err:
        with pytest.raises(BaseURLError):
            ic.validate(None, resolver=FakeResolver())
    else:
        ic.validate(None, resolver=FakeResolver())
