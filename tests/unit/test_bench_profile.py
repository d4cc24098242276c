"""The profiler's summary of py-spy's raw stacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.profile import top_functions


def test_functions_are_counted_once_per_stack_whatever_their_line(tmp_path: Path) -> None:
    raw = tmp_path / "pool-1.txt"
    raw.write_text(
        "run (tasks/step/steps.py:10);publish (kombu/messaging.py:5) 3\n"
        "run (tasks/step/steps.py:12);run (tasks/step/steps.py:40);"
        "clone (checkout/clone.py:7) 1\n"
    )
    shares = dict((frame, share) for share, frame in top_functions([raw], 10))
    assert shares["run (tasks/step/steps.py)"] == pytest.approx(1.0)
    assert shares["publish (kombu/messaging.py)"] == pytest.approx(0.75)
    assert shares["clone (checkout/clone.py)"] == pytest.approx(0.25)


def test_no_samples_give_no_functions(tmp_path: Path) -> None:
    empty = tmp_path / "bridge-1.txt"
    empty.write_text("")
    assert top_functions([empty], 10) == []


def test_entry_points_above_the_cut_are_left_out(tmp_path: Path) -> None:
    raw = tmp_path / "pool-1.txt"
    raw.write_text("main (a.py:1);work (b.py:2) 1\nmain (a.py:1);other (c.py:3) 3\n")
    frames = [frame for _, frame in top_functions([raw], 10, below=0.9)]
    assert frames == ["other (c.py)", "work (b.py)"]
