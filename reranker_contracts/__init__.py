"""The contract suite's tooling. Ours alone: Go has no contract suite.

``suite`` loads the case files (contracts/), ``adapter`` runs one case's
input against this port, ``runner`` runs cases against this port or any
implementation behind the stdin/stdout adapter protocol, with the NIM
emulator replaying each case's upstream answers, ``check`` validates the
suite itself, ``record`` re-records cassettes, ``schemas`` writes the wire
JSON Schemas.
"""
