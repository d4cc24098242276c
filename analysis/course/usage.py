"""What a job's engine spent, summed from its steps' records (Claude: cost, turns,
tokens, call time). Shown in job details and kept in the job's result."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from store.records import StepState


def step_usage(record: StepState) -> dict[str, Any]:
    if not record.usage:
        return {}
    try:
        value = json.loads(record.usage)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def total_usage(steps: Sequence[StepState]) -> dict[str, Any]:
    """Numeric fields added up over the steps; empty when no step recorded any."""
    total: dict[str, Any] = {}
    for record in steps:
        for key, value in step_usage(record).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total
