"""``python -m reranker_nvidia``: the ``reranker-nvidia`` command line."""

from reranker_nvidia.cli.main import run

run()
