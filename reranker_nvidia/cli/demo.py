"""``reranker-nvidia demo``: the whole path, offline, on the embedded NIM emulator.

Starts the emulator on a free loopback port inside this process, loads a
bundled sample of Weaviate search results (20 books, in vector-search
order), runs Weaviate's ``rerank`` additional property over them through the
real HTTP client, and prints the order before and after, with scores. The
scores are the emulator's stand-in, not NVIDIA's model.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from typing import Any

from nim_emulator import EmulatorConfig, running_emulator
from reranker_nvidia.cli.inputs import InputError, read_bytes, read_objects
from reranker_nvidia.cli.output import format_score, table
from reranker_nvidia.cli.rerank import query_text
from reranker_nvidia.clients.ranker import Client
from reranker_nvidia.config.class_settings import NAME
from reranker_nvidia.entities.search.result import SearchResult
from reranker_nvidia.modulecomponents.additional.rank.rank import ReRankerProvider
from reranker_nvidia.modulecomponents.additional.rank.rank_params import Params
from reranker_nvidia.modulecomponents.additional.rank.rank_result import PROPERTY_RERANK
from reranker_nvidia.usecases.modules.module_config import ClassBasedModuleConfig

DEFAULT_QUERY = "Which novel is set on a desert planet that is the only source of the spice?"
DEFAULT_PROPERTY = "description"
DEMO_KEY = "demo-key"

DESCRIPTION = """\
Rerank a sample of Weaviate search results on the embedded NIM emulator:
no network, no API key. The emulator starts on a free 127.0.0.1 port inside
this process; the results go through Weaviate's rerank additional property
and the real HTTP client, exactly as they would against NVIDIA.

The scores come from the emulator's deterministic stand-in (BM25-style),
not from NVIDIA's model. Use --input/--property/--query to try your own data
(JSON Lines, one search result per line, as 'reranker-nvidia rerank' reads).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``demo``'s options."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--query", default=DEFAULT_QUERY, type=query_text, metavar="TEXT", help="the rerank query"
    )
    parser.add_argument(
        "--input",
        metavar="FILE|-",
        help="JSON Lines search results (default: the bundled 20 books)",
    )
    parser.add_argument(
        "--property",
        default=DEFAULT_PROPERTY,
        metavar="NAME",
        help=f"the property to rank by (default: {DEFAULT_PROPERTY})",
    )


def _sample() -> bytes:
    return resources.files("reranker_nvidia.cli").joinpath("data/books.jsonl").read_bytes()


def _label(obj: dict[str, Any], prop: str) -> str:
    title = obj.get("title")
    if isinstance(title, str):
        return title
    value = obj.get(prop)
    return value if isinstance(value, str) else "(no text)"


def run(args: argparse.Namespace) -> int:
    """Run the demo; prints two tables on standard output."""
    out = sys.stdout
    data = _sample() if args.input is None else read_bytes(args.input)
    objects = read_objects(data)
    if not objects:
        raise InputError("nothing to rerank: the input holds no search results")
    results = [SearchResult.from_json(obj) for obj in objects]
    position = {id(result): i for i, result in enumerate(results)}
    before = [[str(i + 1), _label(obj, args.property)] for i, obj in enumerate(objects)]

    with running_emulator(EmulatorConfig(api_key=DEMO_KEY)) as base_url:
        cfg = ClassBasedModuleConfig.for_settings(NAME, {"baseURL": base_url})
        with Client(DEMO_KEY, 30.0) as client:
            ranked = ReRankerProvider(client).additional_property_fn(
                results, Params(property=args.property, query=args.query), None, None, cfg
            )
        out.write(f"NIM emulator on {base_url} (scores are a stand-in, not NVIDIA's model)\n")
        out.write(f"query: {args.query}\nranked by: {args.property}\n\n")

    after = []
    for rank, result in enumerate(ranked, 1):
        assert result.additional_properties is not None
        score = result.additional_properties[PROPERTY_RERANK][0].score
        was = position[id(result)]
        after.append(
            [str(rank), str(was + 1), format_score(score), _label(objects[was], args.property)]
        )
    out.write("Before (search order)\n")
    out.write(table(["#", "result"], before) + "\n\n")
    out.write("After rerank\n")
    out.write(table(["#", "was", "score", "result"], after) + "\n")
    return 0
