"""The ``reranker-nvidia`` command line. Ours alone: Go has no command line.

``rerank`` drives the port exactly as Weaviate would rerank; ``emulator``
and ``demo`` run the offline NIM emulator; ``contracts`` checks and runs the
language-neutral contract suite.
"""
