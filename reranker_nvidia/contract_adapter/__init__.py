"""This port behind the contract suite's adapter protocol, and the wire schemas it generates.

Not a port of a Go file: Weaviate's Go module has no contract suite.
"""
