"""Cost, turns and duration per call, summed per step and in total."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.claude import CallRecord, read_records, summarize_calls
from analysis.claude.records import append_record, calls_path
from analysis.engine import StepContext
from fondation.errors import TransientError
from tests.unit.claude.conftest import EngineFactory


def _record(step: str, cost: float, turns: int, ms: int, *, error: bool = False) -> CallRecord:
    return CallRecord(
        step=step,
        call=step,
        attempt=1,
        subtype="error_max_turns" if error else "success",
        is_error=error,
        total_cost_usd=cost,
        num_turns=turns,
        duration_ms=ms,
        usage={"input_tokens": 100, "output_tokens": 10},
    )


def test_the_summary_adds_up_per_step_and_in_total(tmp_path: Path) -> None:
    append_record(tmp_path, _record("chapters", 0.10, 5, 1000))
    append_record(tmp_path, _record("chapters", 0.25, 30, 4000, error=True))
    append_record(tmp_path, _record("order", 0.01, 1, 500))
    summary = summarize_calls(tmp_path)
    assert summary["steps"]["chapters"] == {
        "calls": 2,
        "errors": 1,
        "cost_usd": 0.35,
        "turns": 35,
        "duration_ms": 5000,
        "input_tokens": 200,
        "output_tokens": 20,
    }
    assert summary["total"]["calls"] == 3
    assert summary["total"]["cost_usd"] == 0.36
    assert summary["total"]["turns"] == 36


def test_no_calls_is_an_empty_summary(tmp_path: Path) -> None:
    assert summarize_calls(tmp_path)["total"]["calls"] == 0
    assert summarize_calls(tmp_path)["steps"] == {}


def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    append_record(tmp_path, _record("order", 0.01, 1, 500))
    with calls_path(tmp_path).open("a") as f:
        f.write('{"step": "chap')
    assert len(read_records(tmp_path)) == 1


def test_every_call_of_a_step_is_recorded_including_failed_ones(
    engine_for: EngineFactory, ctx: StepContext
) -> None:
    with pytest.raises(TransientError):
        engine_for("max_turns", validation_retries=1).extract_abstractions(ctx)
    engine_for("success").extract_abstractions(ctx)
    summary = summarize_calls(ctx.work_dir)["steps"]["abstractions"]
    assert summary["calls"] == 3
    assert summary["errors"] == 2
    assert summary["cost_usd"] == pytest.approx(2 * 0.3141 + 0.0412)
    assert summary["turns"] == 2 * 31 + 7
