"""Small versions of every fault scenario, so a regression fails CI. The full runs are
`make reliability` (docs/RELIABILITY.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.reliability.scenarios import SCENARIOS

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(300)]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fault_scenario_loses_nothing_and_runs_nothing_twice(name: str, tmp_path: Path) -> None:
    outcome = SCENARIOS[name](tmp_path, True)
    assert outcome.lost == 0, outcome
    assert outcome.doubled == 0, outcome
