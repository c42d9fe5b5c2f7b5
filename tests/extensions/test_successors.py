"""A retired or renamed model names its successor (D-EXT-LIFECYCLE, extensions/successors.py).

The successor is added to ``err.hint``, a ``ModelDeprecationWarning`` and
``successor`` only when the dated table knows the model; Go's message on Go's
route is unchanged.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from datetime import date
from typing import Any

import anyio
import httpx
import pytest

from nim_emulator import EmulatorConfig, running_emulator
from reranker_nvidia import (
    AsyncClient,
    ClassBasedModuleConfig,
    Client,
    ModelDeprecationWarning,
    ModelRetiredError,
    UpstreamError,
)
from reranker_nvidia.extensions.successors import (
    CHECKED,
    SUCCESSORS,
    successor_line,
    successor_of,
)

RETIRED = "nvidia/llama-3.2-nv-rerankqa-1b-v2"
RENAMED_TO = "nvidia/llama-nemotron-rerank-1b-v2"
VL = "nvidia/llama-nemotron-rerank-vl-1b-v2"
LINE = f"its successor is {RENAMED_TO} (for images, {VL})"
UNKNOWN = "nvidia/nv-rerankqa-mistral-4b-v3"  # NVIDIA names no successor for it
GONE_DETAIL = (
    f"The model '{RETIRED}' has reached its end of life on 2026-05-18T00:00:00Z "
    "and is no longer available."
)

Handler = Callable[[httpx.Request], httpx.Response]


def cfg(model: str, **more: Any) -> ClassBasedModuleConfig:
    return ClassBasedModuleConfig.for_settings(
        {"baseURL": "http://nim.test", "model": model, **more}
    )


def raised(handler: Handler, model: str, *, run_async: bool, **kwargs: Any) -> UpstreamError:
    """The error a call for ``model`` raises, sync or async."""
    if run_async:

        async def main() -> None:
            async with AsyncClient("k", transport=httpx.MockTransport(handler), **kwargs) as c:
                await c.rank("q", ["a"], cfg(model))

        with pytest.raises(UpstreamError) as caught:
            anyio.run(main)
        return caught.value
    with (
        Client("k", transport=httpx.MockTransport(handler), **kwargs) as client,
        pytest.raises(UpstreamError) as caught,
    ):
        client.rank("q", ["a"], cfg(model))
    return caught.value


def gone(model: str) -> Handler:
    detail = f"The model '{model}' has reached its end of life on 2026-05-18T00:00:00Z and is no longer available."

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"type": "about:blank", "title": "Gone", "status": 410, "detail": detail}
        return httpx.Response(410, json=body, headers={"Content-Type": "application/problem+json"})

    return answer


ASYNC = [pytest.param(False, id="sync"), pytest.param(True, id="async")]


# ---- the table ------------------------------------------------------------------------------


def test_every_row_has_sources_and_the_table_a_date() -> None:
    assert date.fromisoformat(CHECKED) >= date(2026, 12, 1)
    assert SUCCESSORS, "the table is not empty"
    for model, row in SUCCESSORS.items():
        assert row.model == model
        assert row.successor != model
        assert row.successor not in SUCCESSORS  # a successor is not itself retired
        assert row.sources, model
        assert all(re.fullmatch(r"https://\S+", source) for source in row.sources)


def test_the_table_knows_the_renames_nvidia_announced_and_nothing_it_did_not() -> None:
    renamed = successor_of(RETIRED)
    assert renamed is not None
    assert (renamed.successor, renamed.for_images) == (RENAMED_TO, VL)
    small = successor_of("nvidia/llama-3.2-nemoretriever-500m-rerank-v2")
    assert small is not None
    assert small.successor == "nvidia/llama-nemotron-rerank-500m-v2"
    # No NVIDIA page names a successor for these: no row, no guess.
    assert successor_of("nvidia/rerank-qa-mistral-4b") is None  # Go's default
    assert successor_of(UNKNOWN) is None
    assert successor_of(RENAMED_TO) is None


def test_a_model_is_found_with_or_without_its_publisher() -> None:
    assert successor_line("llama-3.2-nv-rerankqa-1b-v2") == LINE
    assert successor_line(RETIRED) == LINE
    assert successor_line("other/llama-3.2-nv-rerankqa-1b-v2") is None


# ---- a 410 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("run_async", ASYNC)
def test_a_410_names_the_successor_in_the_hint_and_keeps_gos_message(run_async: bool) -> None:
    err = raised(gone(RETIRED), RETIRED, run_async=run_async)
    assert isinstance(err, ModelRetiredError)
    assert str(err) == f"connection to NVIDIA API failed with status: 410 error: {GONE_DETAIL}"
    assert err.hint == (
        f"model {RETIRED} was retired on 2026-05-18 and is no longer available; {LINE}"
    )
    assert err.successor == RENAMED_TO


@pytest.mark.parametrize("run_async", ASYNC)
def test_a_410_for_a_model_the_table_does_not_know_names_none(run_async: bool) -> None:
    err = raised(gone(UNKNOWN), UNKNOWN, run_async=run_async)
    assert isinstance(err, ModelRetiredError)
    assert err.hint == f"model {UNKNOWN} was retired on 2026-05-18 and is no longer available"
    assert err.successor is None
    assert "successor" not in str(err)


def test_with_an_endpoint_set_the_410s_own_line_names_the_successor() -> None:
    err = raised(gone(RETIRED), RETIRED, run_async=False, endpoint="model")
    assert str(err) == (
        "connection to NVIDIA API failed with status: 410 error: "
        f"model {RETIRED} was retired on 2026-05-18 and is no longer available; {LINE}"
    )


@pytest.mark.parametrize("run_async", ASYNC)
def test_the_emulators_retired_route_names_the_successor(run_async: bool) -> None:
    settings = {"model": RETIRED, "endpoint": "model"}
    with running_emulator(EmulatorConfig(api_key="k")) as base:
        config = ClassBasedModuleConfig.for_settings({"baseURL": base, **settings})
        with pytest.raises(ModelRetiredError) as caught:
            if run_async:

                async def main() -> None:
                    async with AsyncClient("k") as c:
                        await c.rank("q", ["a"], config)

                anyio.run(main)
            else:
                with Client("k") as client:
                    client.rank("q", ["a"], config)
    assert caught.value.successor == RENAMED_TO
    assert str(caught.value).endswith(f"; {LINE}")


# ---- a Deprecation or Sunset header ---------------------------------------------------------


def announcing(request: httpx.Request) -> httpx.Response:
    count = len(json.loads(request.content)["passages"])
    rankings = [{"index": i, "logit": 1.0} for i in range(count)]
    return httpx.Response(200, json={"rankings": rankings}, headers={"Deprecation": "@1779062400"})


@pytest.mark.parametrize("run_async", ASYNC)
def test_a_deprecation_warning_names_the_successor(run_async: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if run_async:

            async def main() -> None:
                async with AsyncClient("k", transport=httpx.MockTransport(announcing)) as c:
                    await c.rank("q", ["a"], cfg(RETIRED))
                    await c.rank("q", ["a"], cfg(UNKNOWN))

            anyio.run(main)
        else:
            with Client("k", transport=httpx.MockTransport(announcing)) as client:
                client.rank("q", ["a"], cfg(RETIRED))
                client.rank("q", ["a"], cfg(UNKNOWN))
    notices = [w.message for w in caught if issubclass(w.category, ModelDeprecationWarning)]
    assert len(notices) == 2
    known, unknown = notices
    assert isinstance(known, ModelDeprecationWarning)
    assert isinstance(unknown, ModelDeprecationWarning)
    assert str(known) == (
        f"model {RETIRED} is deprecated since 2026-05-18 00:00:00 UTC "
        f"(Deprecation/Sunset response headers); {LINE}"
    )
    assert (known.model, known.successor) == (RETIRED, RENAMED_TO)
    assert str(unknown).endswith("(Deprecation/Sunset response headers)")
    assert (unknown.model, unknown.successor) == (UNKNOWN, None)


# ---- a 404 of a hosted route ----------------------------------------------------------------


def not_for_account(request: httpx.Request) -> httpx.Response:
    body = {
        "status": 404,
        "title": "Not Found",
        "detail": "Function 'f': Not found for account 'a'",
    }
    return httpx.Response(404, json=body)


def available_models(request: httpx.Request) -> httpx.Response:
    detail = "Model not found. Available models are: ['nvidia/rerank-qa-mistral-4b']"
    return httpx.Response(404, json={"status": 404, "title": "Not Found", "detail": detail})


@pytest.mark.parametrize("run_async", ASYNC)
def test_a_404_not_found_for_account_names_the_successor(run_async: bool) -> None:
    err = raised(not_for_account, RETIRED, run_async=run_async, endpoint="model")
    assert err.hint == f"the hosted service does not serve {RETIRED} to this account; {LINE}"
    assert err.successor == RENAMED_TO


def test_a_404_not_found_for_account_of_an_unknown_model_has_no_hint() -> None:
    err = raised(not_for_account, UNKNOWN, run_async=False, endpoint="model")
    assert (err.hint, err.successor) == (None, None)


def test_on_gos_route_the_404s_message_is_gos_and_the_hint_adds_the_successor() -> None:
    err = raised(available_models, RETIRED, run_async=False)
    assert str(err) == (
        "connection to NVIDIA API failed with status: 404 error: "
        "Model not found. Available models are: ['nvidia/rerank-qa-mistral-4b']"
    )
    assert err.hint is not None
    assert err.hint.startswith(f"this route does not serve {RETIRED};")
    assert err.hint.endswith(f'set endpoint "model"; {LINE}')
    assert err.successor == RENAMED_TO


def test_a_404_page_not_found_is_about_the_base_url_not_the_model() -> None:
    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="404 page not found\n")

    err = raised(page, RETIRED, run_async=False)
    assert err.hint is not None
    assert "successor" not in err.hint
    assert err.successor is None
