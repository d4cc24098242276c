"""What each call cost: one ``CallRecord`` per call, appended to ``calls.jsonl``.

The file lives in the job's scratch folder next to the raw outputs, so a step that runs
again after a crash adds to it instead of forgetting what the first run spent.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CALLS_FILE = "calls.jsonl"

# Appends from the chapter threads of one process; lines are short, but one lock keeps
# them whole on every filesystem.
_append_lock = threading.Lock()


class CallRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str  # abstractions, relationships, order, chapters, review, tutorials
    call: str  # e.g. "chapter-02-cart": one chapter of a fanned-out step
    attempt: int  # number of the raw output file <call>-<attempt>.json
    subtype: str  # the CLI's subtype, or crash / malformed / timeout / canceled
    is_error: bool
    total_cost_usd: float = 0.0
    num_turns: int = 0
    duration_ms: int = 0
    usage: dict[str, Any] = Field(default_factory=dict)
    session_id: str | None = None
    permission_denials: int = 0
    # A call not made: an earlier job's answer was reused (answers.py), and what that
    # answer's calls cost is what this job saved.
    reused: bool = False
    saved_cost_usd: float = 0.0
    saved_calls: int = 0
    saved_input_tokens: int = 0
    saved_output_tokens: int = 0


def calls_path(work_dir: Path) -> Path:
    return work_dir / "claude" / CALLS_FILE


def append_record(work_dir: Path, record: CallRecord) -> None:
    path = calls_path(work_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = record.model_dump_json() + "\n"
    with _append_lock, path.open("a", encoding="utf-8") as f:
        f.write(line)


def read_records(work_dir: Path) -> list[CallRecord]:
    """Every record; a line torn by a crash mid-write is skipped, not fatal."""
    path = calls_path(work_dir)
    if not path.exists():
        return []
    out: list[CallRecord] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(CallRecord.model_validate_json(line))
        except ValidationError:
            continue
    return out


def _totals(records: list[CallRecord]) -> dict[str, Any]:
    reused = [r for r in records if r.reused]
    totals = _spent([r for r in records if not r.reused])
    if reused:
        totals |= {
            "reused": len(reused),
            "saved_calls": sum(r.saved_calls for r in reused),
            "saved_cost_usd": round(sum(r.saved_cost_usd for r in reused), 6),
            "saved_input_tokens": sum(r.saved_input_tokens for r in reused),
            "saved_output_tokens": sum(r.saved_output_tokens for r in reused),
        }
    return totals


def _spent(records: list[CallRecord]) -> dict[str, Any]:
    return {
        "calls": len(records),
        "errors": sum(1 for r in records if r.is_error),
        "cost_usd": round(sum(r.total_cost_usd for r in records), 6),
        "turns": sum(r.num_turns for r in records),
        "duration_ms": sum(r.duration_ms for r in records),
        "input_tokens": sum(_int(r.usage.get("input_tokens")) for r in records),
        "output_tokens": sum(_int(r.usage.get("output_tokens")) for r in records),
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def summarize_calls(work_dir: Path) -> dict[str, Any]:
    """``{"total": {...}, "steps": {step: {...}}}`` with calls, errors, cost_usd, turns,
    duration_ms and token counts. Durations add up call time, not wall time: chapter calls
    run in parallel."""
    records = read_records(work_dir)
    steps: dict[str, list[CallRecord]] = {}
    for r in records:
        steps.setdefault(r.step, []).append(r)
    return {
        "total": _totals(records),
        "steps": {name: _totals(recs) for name, recs in steps.items()},
    }
