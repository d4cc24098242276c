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


def test_a_sigterm_mid_step_hands_the_step_back_after_the_soft_shutdown_window(
    tmp_path: Path,
) -> None:
    """SIGTERM is the soft shutdown (REMAP_SIGTERM=SIGQUIT): the 30 s step is handed back
    after the 1 s window and runs again elsewhere. A warm stop would finish it first,
    30 s later, and a `docker stop` would end in a SIGKILL."""
    outcome = SCENARIOS["worker_sigterm"](tmp_path, True)
    assert outcome.lost == 0, outcome
    assert len(outcome.recovery_s) == 1, outcome
    assert outcome.recovery_s[0] < 15, outcome
