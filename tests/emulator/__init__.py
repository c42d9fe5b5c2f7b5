"""Tests of the local NIM emulator (reranker_nvidia.emulator)."""
