"""The contract suite's tooling. Ours alone: Go has no contract suite.

``suite`` loads the case files (contracts/), ``implementations`` drives an
implementation (in-process, one adapter process per case, or a persistent
adapter per job), ``runner`` runs and judges cases on parallel jobs, each
with its own NIM emulator replaying the cases' upstream answers, ``check``
validates the suite itself, ``record`` re-records cassettes, ``cli`` is the
``reranker-contracts`` command. It never imports the port: the port hands
itself in (``reranker-nvidia contracts``).
"""
