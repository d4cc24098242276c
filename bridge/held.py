"""What a bridge keeps in memory of a job it holds: its lease token, where its chain
started, when it was dispatched and last renewed, and since when its work is missing."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HeldJob:
    job_id: str
    token: str
    first_step: int
    dispatched_mono: float
    last_renew_mono: float
    claimed_ms: int
    missing_since_mono: float | None = None
    task_ids: list[str] = field(default_factory=list)
