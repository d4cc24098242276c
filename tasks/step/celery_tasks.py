"""The worker's side of the chain: one Celery task per step (named in tasks/chain.py),
each running a ``StepRun``, and the record of a step killed by its hard time limit.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.exceptions import TimeLimitExceeded

from fondation.steps import STEP_NAMES
from tasks.chain import STEP_TASKS
from tasks.step.runtime import RuntimeHolder
from tasks.step.steps import StepRun

log = logging.getLogger(__name__)


def register_tasks(app: Celery, holder: RuntimeHolder) -> None:
    """Register one task per step on ``app``; each runs ``StepRun`` in the worker."""

    class StepTask(Task[Any, None]):
        step: int = 0

        def on_failure(
            self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any
        ) -> None:
            # A hard time limit kills the pool child; Celery calls this in the parent,
            # where it is our only chance to record the failed attempt.
            if isinstance(exc, TimeLimitExceeded):
                job_id, token = args[0], args[1]
                run = StepRun(holder.get(), job_id, token, self.step)
                # The killed step could not stop its subprocesses; do it for it.
                run.process_groups().kill_all()
                run.record_failure(
                    f"{STEP_NAMES[self.step]} exceeded its hard time limit", permanent=False
                )

    for step, name in enumerate(STEP_TASKS):
        _register_step(app, holder, StepTask, step, name)


def _register_step(
    app: Celery, holder: RuntimeHolder, base: type[Task[Any, None]], step: int, name: str
) -> None:
    def run(self: Task[Any, None], job_id: str, token: str) -> None:
        delivery = self.request.delivery_info or {}
        StepRun(holder.get(), job_id, token, step).run(
            redelivered=bool(delivery.get("redelivered"))
        )

    app.task(
        name=name, bind=True, base=base, step=step, acks_late=True, reject_on_worker_lost=True
    )(run)
