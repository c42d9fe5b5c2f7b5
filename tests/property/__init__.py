"""Hypothesis property tests of reranker-nvidia.

Shared settings (derandomized, no deadline, no example database), strategies
and fake servers live in ``_support.py``; each test states its example count.
"""
