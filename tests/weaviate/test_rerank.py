"""``reranker_nvidia.weaviate.rerank``: Weaviate's ``rerank`` property over weaviate-client results.

The result objects are weaviate-client's own, built directly; the NIM is the
emulator. What Weaviate's server would answer is what the port's own
``ReRankerProvider`` answers for the same objects, so that is the reference.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import uuid
import warnings
from typing import Any

import pytest
import weaviate
from weaviate.classes.config import Configure
from weaviate.classes.query import Rerank
from weaviate.collections.classes.config import Rerankers, _RerankerConfig
from weaviate.collections.classes.internal import GenerativeObject, MetadataReturn, Object
from weaviate.connect import ConnectionParams

from reranker_nvidia import (
    ClassBasedModuleConfig,
    Client,
    ConfigError,
    Params,
    ParamsError,
    ReRankerProvider,
    SearchResult,
    SettingsWarning,
)
from reranker_nvidia.errors import ClientRankError
from reranker_nvidia.weaviate import rerank
from tests.cli._support import cli
from tests.support.fakes import FakeRankClient, by_position

from ._support import (
    KEY,
    QUERY,
    TEXTS,
    Emulator,
    generative_return,
    group_by_return,
    query_return,
    v4_object,
)


def provider_scores(base_url: str, texts: list[str], query: str) -> list[tuple[str, float]]:
    """What the port's rerank property (the server's) gives for results with these texts."""
    results = [SearchResult(schema={"text": t}) for t in texts]
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": base_url})
    with Client(KEY) as client:
        ranked = ReRankerProvider(client).additional_property_fn(
            results, Params(property="text", query=query), None, None, cfg
        )
    out = []
    for item in ranked:
        assert item.schema is not None and item.additional_properties is not None
        out.append((item.schema["text"], item.additional_properties["rerank"][0].score))
    return out


def snapshot(value: Any) -> Any:
    """Every field, deeply, as plain data (GenerativeReturn has no ``__eq__`` of its own)."""
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [snapshot(item) for item in value]
    if hasattr(value, "__dict__"):
        return (type(value).__name__, snapshot(vars(value)))
    return copy.deepcopy(value)


def weaviate_client(headers: dict[str, str]) -> weaviate.WeaviateClient:
    """A weaviate-client that was never connected: only its additional_headers are read."""
    return weaviate.WeaviateClient(
        connection_params=ConnectionParams.from_url("http://127.0.0.1:9", 50051),
        additional_headers=headers,
        skip_init_checks=True,
    )


# ---- the done-means test: one call, the port's answer ------------------------------------


def test_a_query_return_reranked_in_one_call_equals_the_ports_rerank_property(
    emulator: Emulator,
) -> None:
    response = query_return()
    ranked = rerank(
        response, Rerank(prop="text", query=QUERY), base_url=emulator.base_url, api_key=KEY
    )
    got = [(o.properties["text"], o.metadata.rerank_score) for o in ranked.objects]
    assert got == provider_scores(emulator.base_url, list(TEXTS), QUERY)
    assert got[0][0] in ("Library opens 9.", "The library closes at 10.")
    scores = [s for _, s in got if s is not None]
    assert len(scores) == len(got) and scores == sorted(scores, reverse=True)
    assert type(ranked) is type(response)


def test_the_new_objects_keep_everything_but_the_order_and_the_score(emulator: Emulator) -> None:
    response = query_return()
    ranked = rerank(response, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    by_uuid = {o.uuid: o for o in response.objects}
    for new in ranked.objects:
        old = by_uuid[new.uuid]
        assert new is not old and new.metadata is not old.metadata
        assert new.properties == old.properties and new.properties is not old.properties
        assert (new.vector, new.collection, new.references) == (
            old.vector,
            old.collection,
            old.references,
        )
        assert new.metadata.distance == old.metadata.distance
        assert old.metadata.rerank_score is None
        assert new.metadata.rerank_score is not None


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(query_return, id="QueryReturn"),
        pytest.param(generative_return, id="GenerativeReturn"),
        pytest.param(lambda: query_return().objects, id="list-of-Objects"),
        pytest.param(
            lambda: group_by_return({"a": ["x y", "library"], "b": ["library hours"]}),
            id="GroupByReturn",
        ),
        pytest.param(
            lambda: {
                "data": {
                    "Get": {"Doc": [{"text": t, "_additional": {"distance": 0.5}} for t in TEXTS]}
                }
            },
            id="GraphQL",
        ),
    ],
)
def test_the_callers_result_is_never_changed(emulator: Emulator, make: Any) -> None:
    response = make()
    before = snapshot(response)
    ranked = rerank(response, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    assert ranked is not response
    assert snapshot(response) == before
    assert snapshot(ranked) != before  # the snapshot does see a change
    assert len(emulator.bodies()) == 1


def test_a_generative_return_keeps_each_objects_generated_text(emulator: Emulator) -> None:
    response = generative_return()
    ranked = rerank(
        response, Rerank(prop="text", query=QUERY), base_url=emulator.base_url, api_key=KEY
    )
    assert all(isinstance(o, GenerativeObject) for o in ranked.objects)
    said = {o.uuid: o.generative and o.generative.text for o in response.objects}
    assert {o.uuid: o.generative and o.generative.text for o in ranked.objects} == said
    assert set(said.values()) == {"said 0", "said 1", "said 2", "said 3"}
    expected = provider_scores(emulator.base_url, list(TEXTS), QUERY)
    assert [(o.properties["text"], o.metadata.rerank_score) for o in ranked.objects] == expected


def test_a_plain_list_of_objects_gives_a_list(emulator: Emulator) -> None:
    objects = query_return().objects
    ranked = rerank(objects, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    assert isinstance(ranked, list) and all(isinstance(o, Object) for o in ranked)
    expected = provider_scores(emulator.base_url, list(TEXTS), QUERY)
    assert [(o.properties["text"], o.metadata.rerank_score) for o in ranked] == expected


def test_group_by_ranks_each_groups_first_object_and_sets_the_groups_score(
    emulator: Emulator,
) -> None:
    # As Weaviate's vector search: the reranker sees one result per group, its nearest object.
    response = group_by_return(
        {
            "cafe": ["Cafeteria 8-8.", "The library closes at 10."],
            "lib": ["Library opens 9."],
            "park": ["Parking is free."],
        }
    )
    ranked = rerank(
        response, Rerank(prop="text", query=QUERY), base_url=emulator.base_url, api_key=KEY
    )
    (body,) = emulator.bodies()
    assert [p["text"] for p in body["passages"]] == [
        "Cafeteria 8-8.",
        "Library opens 9.",
        "Parking is free.",
    ]
    expected = provider_scores(
        emulator.base_url, ["Cafeteria 8-8.", "Library opens 9.", "Parking is free."], QUERY
    )
    first_texts = {"Cafeteria 8-8.": "cafe", "Library opens 9.": "lib", "Parking is free.": "park"}
    assert [(name, g.rerank_score) for name, g in ranked.groups.items()] == [
        (first_texts[text], score) for text, score in expected
    ]
    # Inside a group nothing moves, and the flat list follows the groups' new order.
    assert [o.properties["text"] for o in ranked.groups["cafe"].objects] == [
        "Cafeteria 8-8.",
        "The library closes at 10.",
    ]
    assert [o.uuid for o in ranked.objects] == [
        o.uuid for g in ranked.groups.values() for o in g.objects
    ]
    assert all(o.metadata.distance is not None for o in ranked.objects)
    assert response.groups["cafe"].rerank_score == 0.0


def test_group_by_objects_alone_cannot_carry_a_score(emulator: Emulator) -> None:
    response = group_by_return({"a": ["x"]})
    with pytest.raises(
        TypeError,
        match="GroupByMetadataReturn, which has no rerank_score: rerank the GroupByReturn",
    ):
        rerank(response.objects, prop="text", query="q", base_url=emulator.base_url, api_key=KEY)
    assert emulator.bodies() == []


# ---- GraphQL --------------------------------------------------------------------------------


def test_a_graphql_response_gets_additional_rerank_per_class(emulator: Emulator) -> None:
    response: dict[str, Any] = {
        "data": {
            "Get": {
                "Doc": [
                    {"text": t, "_additional": {"id": str(uuid.UUID(int=i))}}
                    for i, t in enumerate(TEXTS)
                ],
                "Other": [{"text": "Parking is free."}, {"text": "Library opens 9."}],
                "Empty": None,
            }
        },
        "errors": None,
    }
    ranked = rerank(response, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    assert len(emulator.bodies()) == 2  # Weaviate ranks each class on its own
    doc = ranked["data"]["Get"]["Doc"]
    expected = provider_scores(emulator.base_url, list(TEXTS), QUERY)
    assert [(o["text"], o["_additional"]["rerank"]) for o in doc] == [
        (t, [{"score": s}]) for t, s in expected
    ]
    assert all(set(o["_additional"]) == {"id", "rerank"} for o in doc)
    assert ranked["data"]["Get"]["Other"][0]["text"] == "Library opens 9."
    assert ranked["data"]["Get"]["Empty"] is None and ranked["errors"] is None


def test_a_graphql_group_by_wrapper_is_ranked_by_its_first_hit(emulator: Emulator) -> None:
    def wrapper(name: str, first: str) -> dict[str, Any]:
        return {
            "_additional": {
                "group": {
                    "groupedBy": {"value": name},
                    "hits": [{"text": first, "_additional": {}}, {"text": "Library opens 9."}],
                }
            }
        }

    response = {
        "data": {
            "Get": {
                "Doc": [wrapper("a", "Parking is free."), wrapper("b", "The library closes at 10.")]
            }
        }
    }
    ranked = rerank(response, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    (body,) = emulator.bodies()
    assert [p["text"] for p in body["passages"]] == [
        "Parking is free.",
        "The library closes at 10.",
    ]
    groups = ranked["data"]["Get"]["Doc"]
    assert [g["_additional"]["group"]["groupedBy"]["value"] for g in groups] == ["b", "a"]
    assert all("rerank" in g["_additional"] for g in groups)


# ---- the arguments ------------------------------------------------------------------------


def test_without_a_query_the_query_is_empty_as_in_weaviate(emulator: Emulator) -> None:
    # Weaviate sends "" (rank_params.go's GetQuery), which NVIDIA refuses with a 422.
    for arguments in ({"rerank": Rerank(prop="text")}, {"prop": "text"}):
        with pytest.raises(ClientRankError, match="failed with status: 422"):
            rerank(query_return(), base_url=emulator.base_url, api_key=KEY, **arguments)
    assert [body["query"] for body in emulator.bodies()] == [{"text": ""}, {"text": ""}]


def test_the_ports_params_are_accepted_too(emulator: Emulator) -> None:
    ranked = rerank(
        query_return(),
        Params(property="text", query=QUERY),
        base_url=emulator.base_url,
        api_key=KEY,
    )
    assert ranked.objects[0].metadata.rerank_score is not None


def test_rerank_and_prop_together_is_a_mistake() -> None:
    with pytest.raises(TypeError, match="not both"):
        rerank(query_return(), Rerank(prop="text"), prop="text")
    with pytest.raises(TypeError, match="rerank must be weaviate-client's Rerank, not str"):
        rerank(query_return(), "text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({}, "no params provided", id="nothing"),
        pytest.param({"query": "q"}, "no properties provided", id="no-prop"),
        pytest.param({"rerank": Rerank(prop="")}, "no properties provided", id="empty-prop"),
    ],
)
def test_missing_arguments_are_gos_errors(
    emulator: Emulator, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ParamsError) as caught:
        rerank(query_return(), base_url=emulator.base_url, api_key=KEY, **arguments)
    assert str(caught.value) == message
    assert emulator.bodies() == []


def test_no_results_send_nothing_even_without_arguments(emulator: Emulator) -> None:
    empty = query_return(())
    assert rerank(empty, base_url=emulator.base_url).objects == []
    assert emulator.bodies() == []


def test_a_shape_it_cannot_rerank_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot rerank a int: pass a QueryReturn"):
        rerank(42, prop="text")
    with pytest.raises(TypeError, match=r"\[1\] is a str, not a weaviate-client Object"):
        rerank([v4_object(0, "a"), "b"], prop="text")
    with pytest.raises(TypeError, match="must hold"):
        rerank({"data": {"Aggregate": {}}}, prop="text")


def test_a_property_no_result_has_is_refused_before_sending_as_the_cli_refuses(
    emulator: Emulator,
) -> None:
    """Before, every result went as "" and NVIDIA answered a 422 listing four errors."""
    with pytest.raises(ParamsError) as caught:
        rerank(query_return(), prop="title", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    assert str(caught.value) == (
        "no search result has the property 'title' (properties seen: n, text)"
    )
    assert emulator.bodies() == []
    objects = "".join(f'{{"text": "{text}", "n": {i}}}\n' for i, text in enumerate(TEXTS))
    cli_error = cli("rerank", "--query", QUERY, "--property", "title", stdin=objects.encode())[2]
    assert cli_error == f"error: {caught.value}\n"


def test_a_property_no_result_holds_as_text_is_refused_before_sending(
    emulator: Emulator,
) -> None:
    response = query_return()
    for obj in response.objects:
        obj.properties["text"] = 7
    with pytest.raises(ParamsError, match=r"^no search result has a string in property 'text' "):
        rerank(response, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    assert emulator.bodies() == []


def test_a_graphql_class_whose_results_lack_the_property_is_refused(emulator: Emulator) -> None:
    response = {"data": {"Get": {"A": [{"text": "x"}], "B": [{"other": "y"}]}}}
    with pytest.raises(ParamsError, match="property 'text' \\(properties seen: other\\)"):
        rerank(response, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    assert emulator.bodies() == []


def test_a_property_some_results_lack_does_not_warn(emulator: Emulator) -> None:
    response = query_return()
    del response.objects[0].properties["text"]
    # filterwarnings = error: a warning would be raised here instead of NVIDIA's 422 for "".
    with pytest.raises(ClientRankError, match="passages -> 0 -> text"):
        rerank(response, prop="text", query=QUERY, base_url=emulator.base_url, api_key=KEY)
    assert len(emulator.bodies()) == 1


def test_go_errors_come_back_wrapped_as_in_weaviate(emulator: Emulator) -> None:
    with pytest.raises(ClientRankError) as caught:
        rerank(
            query_return(), prop="text", query="q", base_url=emulator.base_url, api_key="wrong-key"
        )
    assert str(caught.value).startswith("client rank: connection to NVIDIA API failed with status")


# ---- settings -----------------------------------------------------------------------------


def test_configure_reranker_nvidia_gives_the_model_and_base_url(emulator: Emulator) -> None:
    config = Configure.Reranker.nvidia(
        model="nv-rerank-qa-mistral-4b:1",
        base_url=emulator.base_url,  # type: ignore[arg-type]  # pydantic reads the str
    )
    rerank(query_return(), prop="text", query=QUERY, config=config, api_key=KEY)
    (body,) = emulator.bodies()
    assert body["model"] == "nv-rerank-qa-mistral-4b:1"


def test_the_collections_reranker_config_and_keywords_over_it(emulator: Emulator) -> None:
    reranker_config = _RerankerConfig(
        model={"model": "nv-rerank-qa-mistral-4b:1", "baseURL": emulator.base_url},
        reranker=Rerankers.NVIDIA,
    )
    rerank(query_return(), prop="text", query=QUERY, config=reranker_config, api_key=KEY)
    rerank(
        query_return(),
        prop="text",
        query=QUERY,
        config=reranker_config,
        api_key=KEY,
        model="nvidia/rerank-qa-mistral-4b",
    )
    assert [b["model"] for b in emulator.bodies()] == [
        "nv-rerank-qa-mistral-4b:1",
        "nvidia/rerank-qa-mistral-4b",
    ]


def test_a_collection_config_is_read_through_its_reranker_config(emulator: Emulator) -> None:
    # What collection.config.get() returns: weaviate-client's own parsing of the class JSON.
    from weaviate.collections.classes.config_methods import _collection_config_from_json

    schema = {
        "class": "Doc",
        "moduleConfig": {"reranker-nvidia": {"baseURL": emulator.base_url}},
        "properties": [],
        "vectorizer": "none",
        "invertedIndexConfig": {
            "bm25": {"b": 0.75, "k1": 1.2},
            "cleanupIntervalSeconds": 60,
            "stopwords": {"preset": "en", "additions": None, "removals": None},
        },
        "multiTenancyConfig": {"enabled": False},
        "replicationConfig": {"factor": 1},
        "shardingConfig": {
            "virtualPerPhysical": 128,
            "desiredCount": 1,
            "actualCount": 1,
            "desiredVirtualCount": 128,
            "actualVirtualCount": 128,
            "key": "_id",
            "strategy": "hash",
            "function": "murmur3",
        },
    }
    collection_config = _collection_config_from_json(schema)
    rerank(query_return(), prop="text", query=QUERY, config=collection_config, api_key=KEY)
    (body,) = emulator.bodies()
    assert body["model"] == "nvidia/rerank-qa-mistral-4b"  # the module's default


def test_another_reranker_in_the_config_is_refused() -> None:
    config = _RerankerConfig(model={"model": "rerank-english-v2.0"}, reranker=Rerankers.COHERE)
    with pytest.raises(ConfigError, match="the collection's reranker is reranker-cohere"):
        rerank(query_return(), prop="text", config=config)


def test_a_class_based_module_config_is_used_as_weaviate_gives_it(emulator: Emulator) -> None:
    model = "nv-rerank-qa-mistral-4b:1"
    cfg = ClassBasedModuleConfig.for_settings({"baseURL": emulator.base_url, "model": model})
    rerank(query_return(), prop="text", query=QUERY, config=cfg, api_key=KEY)
    assert emulator.bodies()[0]["model"] == model


def test_a_setting_nothing_reads_warns() -> None:
    with pytest.warns(SettingsWarning, match="does not read the setting 'baseUrl'"):
        rerank(query_return(()), prop="text", baseUrl="http://127.0.0.1:9")


# ---- headers ------------------------------------------------------------------------------


def test_the_connected_clients_additional_headers_are_used(emulator: Emulator) -> None:
    client = weaviate_client({"X-Nvidia-Api-Key": KEY, "X-Nvidia-Baseurl": emulator.base_url})
    ranked = rerank(
        query_return(),
        Rerank(prop="text", query=QUERY),
        client=client,
        base_url="http://127.0.0.1:9",
        api_key="server-key",
    )
    (record,) = emulator.state.requests
    assert record.auth == "valid"  # the header's key beats the server-side one
    assert ranked.objects[0].metadata.rerank_score is not None


def test_headers_go_over_the_clients_own(emulator: Emulator) -> None:
    client = weaviate_client({"X-Nvidia-Api-Key": "wrong-key"})
    rerank(
        query_return(),
        prop="text",
        query=QUERY,
        client=client,
        headers={"x-nvidia-api-key": KEY},
        base_url=emulator.base_url,
    )
    (record,) = emulator.state.requests
    assert record.auth == "valid"


def test_a_client_that_is_not_weaviates_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="client must be a weaviate-client"):
        rerank(query_return(), prop="text", client=object())


def test_a_given_nvidia_client_is_used_and_left_open(emulator: Emulator) -> None:
    with Client(KEY, max_documents=2) as client:
        rerank(
            query_return(),
            prop="text",
            query=QUERY,
            base_url=emulator.base_url,
            nvidia_client=client,
        )
        rerank(
            query_return(),
            prop="text",
            query=QUERY,
            base_url=emulator.base_url,
            nvidia_client=client,
        )
    assert len(emulator.bodies()) == 4  # two chunks of two, twice
    with pytest.raises(ConfigError, match="give the key to nvidia_client"):
        rerank(query_return(), prop="text", nvidia_client=Client(KEY), api_key=KEY)


# ---- layers -------------------------------------------------------------------------------


def test_importing_the_port_does_not_import_weaviate_client() -> None:
    probe = (
        "import importlib, pathlib, sys, reranker_nvidia as r\n"
        "root = pathlib.Path(r.__file__).parent\n"
        "for path in sorted(root.rglob('*.py')):\n"
        "    parts = path.relative_to(root.parent).with_suffix('').parts\n"
        "    name = '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)\n"
        "    if not name.startswith(('reranker_nvidia.weaviate', 'reranker_nvidia.__main__')):\n"
        "        importlib.import_module(name)\n"
        "print(sorted(n for n in sys.modules if n == 'weaviate' or n.startswith('weaviate.')))\n"
        "import reranker_nvidia.weaviate\n"
        "print('weaviate' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True"]
    assert done.stderr == ""  # and weaviate-client's import says nothing


# ---- what the rank call is given ----------------------------------------------------------


def test_settings_are_layered_config_then_model_and_base_url_then_keywords() -> None:
    recorder = FakeRankClient(by_position)
    config = _RerankerConfig(
        model={"model": "from-config", "baseURL": "http://config", "truncate": "NONE"},
        reranker=Rerankers.NVIDIA,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SettingsWarning)  # whichever keys the module registers
        rerank(
            query_return(),
            prop="text",
            query="q",
            config=config,
            model="from-keyword",
            nvidia_client=recorder,
            truncate="END",
            requests_per_minute=60,
        )
    ((query, documents, cfg, headers),) = recorder.calls
    assert (query, documents, headers) == ("q", list(TEXTS), {})
    assert dict(cfg.class_by_module_name("reranker-nvidia")) == {
        "model": "from-keyword",
        "baseURL": "http://config",
        "truncate": "END",
        "requestsPerMinute": 60,
    }


def test_a_class_config_without_overrides_is_passed_as_it_is() -> None:
    recorder = FakeRankClient(by_position)
    cfg = ClassBasedModuleConfig.for_settings({"model": "m"})
    ranked = rerank(query_return(), prop="text", query="q", config=cfg, nvidia_client=recorder)
    assert recorder.calls[0][2] is cfg
    # Scores by position: the last object first.
    assert [o.properties["n"] for o in ranked.objects] == [3, 2, 1, 0]


def test_a_generative_group_by_return_is_reranked_by_groups() -> None:
    from weaviate.collections.classes.internal import GenerativeGroup, GenerativeGroupByReturn

    plain = group_by_return({"a": ["x"], "b": ["y"]})
    groups = {
        name: GenerativeGroup(
            name=g.name,
            min_distance=g.min_distance,
            max_distance=g.max_distance,
            number_of_objects=g.number_of_objects,
            objects=g.objects,
            rerank_score=None,
            generated=f"about {name}",
        )
        for name, g in plain.groups.items()
    }
    response = GenerativeGroupByReturn(objects=plain.objects, groups=groups, generated="all")
    recorder = FakeRankClient(by_position)
    ranked = rerank(response, prop="text", query="q", nvidia_client=recorder)
    assert [(n, g.rerank_score, g.generated) for n, g in ranked.groups.items()] == [
        ("b", 1.0, "about b"),
        ("a", 0.0, "about a"),
    ]
    assert ranked.generated == "all"
    assert recorder.calls[0][1] == ["x", "y"]


def test_the_warnings_point_at_the_caller() -> None:
    with pytest.warns(SettingsWarning) as unread:
        rerank(query_return(()), prop="text", baseUrl="http://127.0.0.1:9")
    assert [w.filename for w in unread] == [__file__]


def test_a_class_config_with_overrides_keeps_its_other_settings_and_tenant() -> None:
    recorder = FakeRankClient(by_position)
    cfg = ClassBasedModuleConfig(
        {"moduleConfig": {"reranker-nvidia": {"model": "m", "baseURL": "http://a"}}}, "", "t1"
    )
    rerank(
        query_return(),
        prop="text",
        query="q",
        config=cfg,
        base_url="http://b",
        nvidia_client=recorder,
    )
    given = recorder.calls[0][2]
    assert dict(given.class_by_module_name("reranker-nvidia")) == {
        "model": "m",
        "baseURL": "http://b",
    }
    assert given.tenant() == "t1"


def test_headers_may_be_pairs_and_nothing_else() -> None:
    recorder = FakeRankClient(by_position)
    rerank(
        query_return(),
        prop="text",
        query="q",
        nvidia_client=recorder,
        headers=[("X-Nvidia-Api-Key", "a"), ("x-nvidia-api-key", "b")],
    )
    assert recorder.calls[0][3] == {"x-nvidia-api-key": "b"}
    with pytest.raises(TypeError, match="headers must be a mapping or"):
        rerank(query_return(), prop="text", nvidia_client=recorder, headers="X-Nvidia-Api-Key")


def test_a_collection_without_a_reranker_gives_the_modules_defaults() -> None:
    class CollectionConfig:
        name = "Doc"
        reranker_config = None

    recorder = FakeRankClient(by_position)
    rerank(
        query_return(), prop="text", query="q", config=CollectionConfig(), nvidia_client=recorder
    )
    cfg = recorder.calls[0][2]
    assert cfg.class_by_module_name("reranker-nvidia") == {}
    with pytest.raises(TypeError, match=r"config must be collection\.config\.get\(\)"):
        rerank(query_return(), prop="text", config=42, nvidia_client=recorder)


def test_graphql_shapes_it_cannot_read_are_type_errors() -> None:
    with pytest.raises(TypeError, match=r"data.Get.Doc must be a list of objects"):
        rerank({"data": {"Get": {"Doc": ["x"]}}}, prop="text")
    with pytest.raises(TypeError, match=r"data.Get.Doc\[0\]._additional must be an object"):
        rerank({"data": {"Get": {"Doc": [{"text": "x", "_additional": 1}]}}}, prop="text")


def test_an_object_without_metadata_gets_a_metadata_return() -> None:
    item = v4_object(0, "x")
    item.metadata = None  # type: ignore[assignment]
    (ranked,) = rerank([item], prop="text", query="q", nvidia_client=FakeRankClient(by_position))
    assert ranked.metadata == MetadataReturn(rerank_score=0.0)
    assert item.metadata is None
