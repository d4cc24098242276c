"""The steps of a job, from the one table both halves of the worker read.

``shared.json`` (``convex/functions/worker/lib/shared.json``; ``fondation/shared.json``
is a symlink to it, and the images copy the file itself) holds one row per step: its
Celery task, its English and French names, the job's status while it runs, the course
model's type of its artifact and the Engine method that produces it. The TypeScript
functions import the same rows (``lib/steps.ts``). The step's number is its row: 0 is the
clone, 1-6 the analysis, the last one saves the course.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

ANALYZING = "analyzing"


@dataclass(frozen=True)
class Step:
    number: int
    key: str  # short name: the engine's, and CLAUDE_MAX_TURNS_<KEY>
    task: str  # the Celery task name; running workers consume it, so it never changes
    name: str  # English, in logs and the runbook's grep
    name_fr: str  # in the web app's progress text
    status: str  # the job's status while the step runs
    artifact: str | None  # the course model's type of the step's result
    engine_method: str | None  # the Engine method that produces it

    @property
    def is_analysis(self) -> bool:
        return self.status == ANALYZING


def shared_rules() -> dict[str, Any]:
    """The rules file both halves read."""
    text = resources.files("fondation").joinpath("shared.json").read_text(encoding="utf-8")
    rules: dict[str, Any] = json.loads(text)
    return rules


def _load() -> tuple[Step, ...]:
    rows = shared_rules()["steps"]["table"]
    return tuple(
        Step(
            number=i,
            key=row["key"],
            task=row["task"],
            name=row["name"],
            name_fr=row["nameFr"],
            status=row["status"],
            artifact=row["artifact"],
            engine_method=row["engineMethod"],
        )
        for i, row in enumerate(rows)
    )


# A constant of the package, like the code itself: read once, on first import.
STEPS: tuple[Step, ...] = _load()
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)
ANALYSIS_STEPS = sum(1 for s in STEPS if s.is_analysis)
FINALIZE_STEP = STEPS[-1].number


def step(number: int) -> Step:
    if not 0 <= number < len(STEPS):
        raise ValueError(f"no step {number}")
    return STEPS[number]


def step_status(number: int) -> str:
    """The job's status while step ``number`` runs, as the web app shows it."""
    return step(number).status


def step_line(number: int) -> str:
    """The step in logs, in English: ``Step 3/6: Determining order`` for an analysis step
    (the runbook greps ``Step [0-9]/6``), the bare name for the clone and the save."""
    s = step(number)
    return f"Step {number}/{ANALYSIS_STEPS}: {s.name}" if s.is_analysis else s.name


def first_unfinished_step(completed: set[int]) -> int:
    """Where a job's chain starts: the first step without a completed record (a retried
    job resumes there), at most the last step."""
    number = 0
    while number in completed and number < FINALIZE_STEP:
        number += 1
    return number
