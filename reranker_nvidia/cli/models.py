"""``reranker-nvidia models``: list the models a self-hosted NIM serves (``GET /v1/models``)."""

from __future__ import annotations

import argparse
import os
from typing import TextIO

DESCRIPTION = """\
List the models a NIM serves, from GET {base URL}/v1/models, with each
model's id and root. NIM 2.x may advertise its mount path as the id: the
model's name is then its root. Use the name in the 'model' class setting
(--model), and --endpoint ranking for a self-hosted NIM.

No key is sent unless --api-key-env names the variable that holds one.
"""

EPILOG = """\
exit status: 0 success, 1 error (one line on stderr), 2 usage, 130 interrupted.

example:
  reranker-nvidia models --base-url http://127.0.0.1:8000
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``models``'s options."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="the NIM's base URL, e.g. http://127.0.0.1:8000",
    )
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="send the key held in environment variable NAME (default: send no key)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="0 means none (default: MODULES_CLIENT_TIMEOUT, else 50)",
    )
    parser.add_argument(
        "--json", action="store_true", help='print {"models": [{"id": …, "root": …}]} instead'
    )


def _seconds(text: str) -> float:
    from reranker_nvidia.cli.rerank import seconds  # noqa: PLC0415 - only when the flag is given

    return seconds(text)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """List the models; raises RerankerError for the caller to report."""
    from reranker_nvidia.cli.output import json_text, table  # noqa: PLC0415 - start-up stays light
    from reranker_nvidia.errors import ConfigError  # noqa: PLC0415
    from reranker_nvidia.extensions.models import list_models  # noqa: PLC0415

    api_key = None
    if args.api_key_env is not None:
        api_key = os.environ.get(args.api_key_env, "")
        if not api_key:
            raise ConfigError(f"--api-key-env: environment variable {args.api_key_env} is not set")
    models = list_models(args.base_url, api_key=api_key, timeout=args.timeout)
    if args.json:
        shown = [{"id": model.id, "root": model.root} for model in models]
        stdout.write(json_text({"models": shown}) + "\n")
        return 0
    if not models:
        stderr.write("no models listed\n")
        return 0
    rows = [[model.id, model.root or "-"] for model in models]
    stdout.write(table(["id", "root"], rows) + "\n")
    return 0
