"""``reranker-nvidia contracts``: the contract suite's command, with this port handed in.

``check``, ``run`` and ``record`` are the suite's own (``reranker_contracts``);
without ``--impl``, ``run`` tests this port in-process. ``adapter`` is this
port behind the adapter protocol, and ``schemas`` checks or rewrites the wire
JSON Schemas that the port's models generate.
"""

from __future__ import annotations

import argparse

from reranker_contracts import cli as suite_cli

DESCRIPTION = (
    suite_cli.DESCRIPTION
    + """\
  adapter  this port behind the adapter protocol: a case on stdin, the outcome on stdout
  schemas  check or rewrite the wire JSON Schemas in contracts/schemas
"""
)

IN_PROCESS_NAME = "reranker-nvidia (in-process)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the suite's sub-commands, then the port's own."""
    sub = suite_cli.configure(parser)
    parser.description = DESCRIPTION
    adapter = sub.add_parser(
        "adapter",
        help="this port behind the adapter protocol",
        description="This port behind the adapter protocol (contracts/README.md): one case as "
        "JSON on stdin, its outcome as JSON on stdout, exit 0 (1 for an error outcome).",
    )
    adapter.add_argument(
        "--persistent",
        action="store_true",
        help="stay up: one case per line on stdin, one outcome per line on stdout echoing each "
        "line's id, until stdin ends (for 'contracts run --persistent')",
    )
    sch = sub.add_parser("schemas", help="check or rewrite contracts/schemas")
    suite_cli.suite_option(sch)
    mode = sch.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when a schema is stale (default)")
    mode.add_argument("--write", action="store_true", help="rewrite the schemas")


def run(args: argparse.Namespace) -> int:
    """Dispatch a ``contracts`` sub-command."""
    # Imported here: the adapter runs once per case, and pays only for what it uses.
    if args.contracts_command == "adapter":
        from reranker_nvidia.contract_adapter.adapter import main as adapter_main  # noqa: PLC0415

        return adapter_main(persistent=args.persistent)
    if args.contracts_command == "schemas":
        from reranker_contracts.suite import find_suite  # noqa: PLC0415
        from reranker_nvidia.contract_adapter import schemas  # noqa: PLC0415

        directory = find_suite(args.suite) / "schemas"
        if args.write:
            for path in schemas.write(directory):
                print(f"wrote {path}")
            return 0
        stale = schemas.stale(directory)
        for name in stale:
            print(f"stale: {directory / name} (run: reranker-nvidia contracts schemas --write)")
        return 1 if stale else 0
    from reranker_contracts.runner import InProcess  # noqa: PLC0415
    from reranker_nvidia.contract_adapter.adapter import execute  # noqa: PLC0415

    return suite_cli.run(args, InProcess(execute, IN_PROCESS_NAME))
