"""``rerank`` and ``arerank``: Weaviate's ``rerank`` property, applied to what the client returned.

Each reads the result (``_inputs``), the settings and headers (``_settings``),
ranks every batch with the port's own provider, :class:`ReRankerProvider` or
:class:`AsyncReRankerProvider` — so the texts sent, the errors and the order
are the server module's, word for word — and builds new results (``_output``).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from typing import Any, TypeVar

from reranker_nvidia import (
    AsyncClient,
    AsyncReRankerProvider,
    Client,
    ConfigError,
    Params,
    ReRankerProvider,
    SearchResult,
)
from reranker_nvidia.modulecomponents.additional.rank.rank import (
    AsyncReRankerClient,
    ReRankerClient,
)
from reranker_nvidia.modulecomponents.additional.rank.rank_result import PROPERTY_RERANK
from reranker_nvidia.weaviate import _inputs, _output, _settings
from reranker_nvidia.weaviate._client_import import Rerank

T = TypeVar("T")


def rerank(
    result: T,
    rerank: Rerank | Params | None = None,
    *,
    prop: str | None = None,
    query: str | None = None,
    client: object = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    headers: object = None,
    config: object = None,
    nvidia_client: ReRankerClient | None = None,
    **settings: Any,
) -> T:
    """``result`` reranked as Weaviate's ``rerank`` property would: a new result of its type.

    ``rerank`` is weaviate-client's ``Rerank(prop=..., query=...)`` (or the
    port's ``Params``); or give ``prop=`` and ``query=``. Without a query the
    query is ``""``, as in Weaviate. ``client`` is a connected weaviate-client,
    whose ``additional_headers`` are used; ``headers`` go over them. ``api_key``
    plays the server's ``NVIDIA_APIKEY`` (an ``X-Nvidia-Api-Key`` header wins);
    ``base_url``, ``model``, ``config`` and further keywords are the class
    settings (an ``X-Nvidia-Baseurl`` header wins). ``nvidia_client`` is a
    :class:`Client` (or any ``ReRankerClient``) to rank with, left open,
    instead of one made and closed for this call.
    """
    params = _params(rerank, prop, query)
    reading = _inputs.read(result)
    cfg = _settings.class_config(config, model=model, base_url=base_url, settings=settings)
    request_headers = _settings.request_headers(client, headers)
    _refuse_unreturned(reading, params)
    with _sync_client(nvidia_client, api_key) as ranker:
        provider = ReRankerProvider(ranker)
        orders = [
            _order(
                batch,
                provider.additional_property_fn(
                    batch, params, None, None, cfg, headers=request_headers
                ),
            )
            for batch in reading.batches
        ]
    built: T = reading.build(orders)
    return built


async def arerank(
    result: T,
    rerank: Rerank | Params | None = None,
    *,
    prop: str | None = None,
    query: str | None = None,
    client: object = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    headers: object = None,
    config: object = None,
    nvidia_client: AsyncReRankerClient | None = None,
    **settings: Any,
) -> T:
    """The async twin of :func:`rerank`: ranks with an :class:`AsyncClient`."""
    params = _params(rerank, prop, query)
    reading = _inputs.read(result)
    cfg = _settings.class_config(config, model=model, base_url=base_url, settings=settings)
    request_headers = _settings.request_headers(client, headers)
    _refuse_unreturned(reading, params)
    async with _async_client(nvidia_client, api_key) as ranker:
        provider = AsyncReRankerProvider(ranker)
        orders = [
            _order(
                batch,
                await provider.additional_property_fn_async(
                    batch, params, None, None, cfg, headers=request_headers
                ),
            )
            for batch in reading.batches
        ]
    built: T = reading.build(orders)
    return built


def _params(rerank: object, prop: str | None, query: str | None) -> Params | None:
    """Go's ``*Params``: from ``Rerank``, from ``Params``, or from ``prop=``/``query=``.

    Nothing at all is Go's nil (``no params provided``, when there are results).
    """
    if rerank is None:
        if prop is None and query is None:
            return None
        return Params(property=prop, query=query)
    if prop is not None or query is not None:
        raise TypeError("give the rerank argument or prop= and query=, not both")
    if isinstance(rerank, Params):
        return rerank
    if isinstance(rerank, Rerank):
        return Params(property=rerank.prop, query=rerank.query)
    raise TypeError(f"rerank must be weaviate-client's Rerank, not {type(rerank).__name__}")


def _refuse_unreturned(reading: _inputs.Reading, params: Params | None) -> None:
    """A property no result of a batch holds as text is refused before anything is sent."""
    prop = params.get_property() if params is not None else ""
    for batch in reading.batches:
        _inputs.refuse_if_not_returned(batch, prop)


def _order(batch: Sequence[SearchResult], ranked: Sequence[SearchResult]) -> _output.Order:
    """Where each ranked result was in ``batch``, and its score, best first.

    A batch the client failed open on (D-EXT-FAIL-OPEN) comes back in its search order with
    no ``rerank`` entry: each score is ``None``. With ``min_score`` (D-EXT-SCORES) the results
    below it are not in ``ranked``, so not in the order.
    """
    positions = {id(item): index for index, item in enumerate(batch)}
    order: _output.Order = []
    for item in ranked:
        rank = (item.additional_properties or {}).get(PROPERTY_RERANK)
        score = rank[0].score if rank else None
        order.append((positions[id(item)], None if score is None else float(score)))
    return order


def _sync_client(
    nvidia_client: ReRankerClient | None, api_key: str | None
) -> AbstractContextManager[ReRankerClient]:
    if nvidia_client is None:
        return Client(api_key)
    _check_own_key(api_key)
    if inspect.iscoroutinefunction(getattr(nvidia_client, "rank", None)):
        raise TypeError("nvidia_client is async: use arerank, or pass a Client")
    return nullcontext(nvidia_client)


def _async_client(
    nvidia_client: AsyncReRankerClient | None, api_key: str | None
) -> AbstractAsyncContextManager[AsyncReRankerClient]:
    if nvidia_client is None:
        return AsyncClient(api_key)
    _check_own_key(api_key)
    if not inspect.iscoroutinefunction(getattr(nvidia_client, "rank", None)):
        raise TypeError("nvidia_client is not async: use rerank, or pass an AsyncClient")
    return nullcontext(nvidia_client)


def _check_own_key(api_key: str | None) -> None:
    if api_key is not None:
        raise ConfigError(
            "api_key is for the client rerank makes; give the key to nvidia_client instead"
        )
