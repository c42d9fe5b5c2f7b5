"""``rerank``/``arerank`` take ``on_error``, ``score_transform`` and ``min_score`` as the other
settings: by keyword (snake_case or camelCase) or in ``config`` (D-EXT-FAIL-OPEN, D-EXT-SCORES).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from weaviate.classes.query import Rerank

from nim_emulator import EmulatorConfig, FaultSpec, create_app, running_emulator
from reranker_nvidia.errors import ClientRankError
from reranker_nvidia.weaviate import arerank, rerank

from ._support import KEY, QUERY, TEXTS, Emulator, group_by_return, query_return

WARNING_500 = (
    "reranking failed, documents kept in their input order: "
    "connection to NVIDIA API failed with status: 500"
)


@pytest.fixture
def down() -> Iterator[Emulator]:
    app = create_app(EmulatorConfig(api_key=KEY, faults=[FaultSpec.parse("status=500")]))
    with running_emulator(app=app) as base_url:
        yield Emulator(base_url, app.state.emulator)


def _sync(result: Any, base: str, **settings: Any) -> Any:
    return rerank(result, Rerank(prop="text", query=QUERY), base_url=base, api_key=KEY, **settings)


def _async(result: Any, base: str, **settings: Any) -> Any:
    async def main() -> Any:
        return await arerank(
            result, Rerank(prop="text", query=QUERY), base_url=base, api_key=KEY, **settings
        )

    return anyio.run(main)


BOTH = pytest.mark.parametrize("call", [_sync, _async], ids=["rerank", "arerank"])


def _got(ranked: Any) -> list[tuple[str, float | None]]:
    return [(o.properties["text"], o.metadata.rerank_score) for o in ranked.objects]


@BOTH
def test_fail_open_keeps_the_search_order_without_a_score(
    call: Any, down: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reranker_nvidia")
    ranked = call(query_return(), down.base_url, on_error="input_order")
    assert _got(ranked) == [(t, None) for t in TEXTS]
    assert [r.getMessage() for r in caplog.records if r.name == "reranker_nvidia"] == [WARNING_500]


@BOTH
def test_without_fail_open_the_error_is_the_server_modules(call: Any, down: Emulator) -> None:
    with pytest.raises(ClientRankError, match="status: 500"):
        call(query_return(), down.base_url)


def test_fail_open_in_config_keeps_groups_and_graphql_objects_as_they_came(down: Emulator) -> None:
    named = {"b": ["Cafeteria 8-8."], "a": ["Library opens 9.", "Gym 6-10."]}
    groups = rerank(
        group_by_return(named), Rerank(prop="text", query=QUERY), base_url=down.base_url,
        api_key=KEY, config={"onError": "input_order"},
    )  # fmt: skip
    assert [g.rerank_score for g in groups.groups.values()] == [None] * len(groups.groups)
    assert list(groups.groups) == ["b", "a"]
    docs = [{"text": t, "_additional": {"distance": 0.5}} for t in TEXTS]
    response = {"data": {"Get": {"Doc": docs}}}
    again = rerank(
        response, prop="text", query=QUERY, base_url=down.base_url, api_key=KEY,
        onError="input_order",
    )  # fmt: skip
    assert again == response


@BOTH
def test_min_score_drops_below_it_on_the_transformed_scale(call: Any, emulator: Emulator) -> None:
    raw = _got(call(query_return(), emulator.base_url))
    mapped = _got(call(query_return(), emulator.base_url, score_transform="sigmoid"))
    assert [t for t, _ in mapped] == [t for t, _ in raw]
    assert [s for _, s in mapped] == [
        pytest.approx(1 / (1 + math.exp(-s))) for _, s in raw if s is not None
    ]
    threshold = mapped[1][1]
    assert threshold is not None
    kept = _got(
        call(query_return(), emulator.base_url, scoreTransform="sigmoid", min_score=threshold)
    )
    assert kept == [(t, s) for t, s in mapped if s is not None and s >= threshold]
    assert len(kept) < len(TEXTS)
