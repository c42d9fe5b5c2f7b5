"""The suite's live cases against NVIDIA's real service: skipped unless NVIDIA_APIKEY is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from reranker_contracts.runner import InProcess, run_live
from reranker_contracts.suite import load_cases
from reranker_nvidia.contract_adapter.adapter import execute
from tests.conftest import LIVE_API_KEY

SUITE = Path(__file__).resolve().parents[2] / "contracts"


@pytest.mark.live
@pytest.mark.skipif(not LIVE_API_KEY, reason="NVIDIA_APIKEY is not set")
def test_live_cases_pass_against_nvidia() -> None:
    results = run_live(load_cases(SUITE), InProcess(execute), LIVE_API_KEY)
    assert results
    assert [r.problems for r in results if r.status != "passed"] == []
