"""The extensions' arguments and class settings, wired through a real Client and AsyncClient.

Each is off by default, so the request is Go's; a class setting wins over the
argument for its call; a bad value is one ConfigError line before any
request. What each extension then does through the clients is tested in its
own file: test_retries.py, test_rate_limit.py, test_wait_ready.py,
test_pickling.py, test_endpoints.py, test_images.py, test_lifecycle.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reranker_nvidia import AsyncClient, Client, ConfigError
from tests.extensions._support import BASE, Recorder, cfg, client


def test_with_every_argument_at_its_default_the_request_is_gos() -> None:
    recorder = Recorder()
    with client(recorder) as c:
        c.rank("q", ["a", "b"], cfg(model="nvidia/x-1.0"))
    (request,) = recorder.requests
    assert str(request.url) == f"{BASE}/v1/retrieval/nvidia/reranking"
    assert request.headers["authorization"] == "Bearer k"
    assert request.content == (
        b'{"model":"nvidia/x-1.0","query":{"text":"q"},"passages":[{"text":"a"},{"text":"b"}]}'
    )


def test_a_class_setting_wins_over_the_argument() -> None:
    recorder = Recorder()
    with client(recorder, endpoint="ranking", truncate="END") as c:
        c.rank("q", ["a"], cfg(endpoint="retrieval", truncate="NONE"))
        c.rank("q", ["a"], cfg())
    assert recorder.paths == ["/v1/retrieval/nvidia/reranking", "/v1/ranking"]
    assert [json.loads(r.content)["truncate"] for r in recorder.requests] == ["NONE", "END"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"truncate": "START"}, "wrong truncate type, available types are: [NONE END]"),
        ({"truncate": 1}, "wrong truncate type, available types are: [NONE END]"),
        ({"endpoint": "v2"}, 'endpoint must be one of [retrieval model ranking rerank auto], not "v2"'),
        ({"maxDocuments": 513}, "maxDocuments must be at most 512"),
        ({"maxConcurrency": 0}, "maxConcurrency must be at least 1, not 0"),
        ({"retries": -1}, "retries must be 0 or more, not -1"),
        ({"requestsPerMinute": 0}, "requestsPerMinute must be a number greater than 0, not 0"),
    ],
)  # fmt: skip
def test_a_bad_class_setting_is_one_config_error_before_any_request(
    settings: dict[str, Any], message: str
) -> None:
    recorder = Recorder()
    with client(recorder) as c, pytest.raises(ConfigError) as caught:
        c.rank("q", ["a"], cfg(**settings))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"truncate": "start"}, "wrong truncate type, available types are: [NONE END]"),
        ({"endpoint": "Ranking"}, "endpoint must be one of"),
        ({"retries": -2}, "retries must be 0 or more"),
        ({"wait_ready": 0}, "wait_ready must be a number greater than 0"),
    ],
)
def test_a_bad_argument_is_a_config_error_at_construction(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        Client("k", **kwargs)
    with pytest.raises(ConfigError):
        AsyncClient("k", **kwargs)


def test_max_documents_and_max_concurrency_as_class_settings() -> None:
    recorder = Recorder()
    with client(recorder) as c:
        result = c.rank("q", ["a", "b", "c", "d", "e"], cfg(maxDocuments=2, maxConcurrency=1))
    assert [len(json.loads(r.content)["passages"]) for r in recorder.requests] == [2, 2, 1]
    assert [s.score for s in result.document_scores] == [0.0, 1.0, 0.0, 1.0, 0.0]
