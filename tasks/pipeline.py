"""The chain of a job: clone, the six analysis steps, then finalize, as Celery tasks.

Task names and arguments are made for Flower: each task is named after its step, its
id starts with the job id ("<job>-<lease>-<step>"), and its shown arguments are the job
id and step name (the lease token is kept out of events and logs).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task, chain
from celery.exceptions import TimeLimitExceeded

from bridge.store.records import STEP_NAMES
from tasks.runtime import RuntimeHolder
from tasks.steps import StepRun

log = logging.getLogger(__name__)

STEP_TASKS: tuple[str, ...] = (
    "fondation.clone",
    "fondation.extract_abstractions",
    "fondation.analyze_relationships",
    "fondation.determine_order",
    "fondation.generate_chapters",
    "fondation.review_chapters",
    "fondation.create_tutorials",
    "fondation.finalize",
)
assert len(STEP_TASKS) == len(STEP_NAMES)


def chain_prefix(job_id: str, token: str) -> str:
    """What every task id of one dispatch of a job starts with."""
    return f"{job_id}-{token[:8]}"


def task_id(job_id: str, token: str, step: int) -> str:
    return f"{chain_prefix(job_id, token)}-{step}"


def chain_task_ids(job_id: str, token: str, first_step: int) -> list[str]:
    return [task_id(job_id, token, s) for s in range(first_step, len(STEP_TASKS))]


def build_chain(app: Celery, queue: str, job_id: str, token: str, first_step: int) -> Any:
    sigs = [
        app.signature(
            STEP_TASKS[step],
            args=(job_id, token),
            immutable=True,
            task_id=task_id(job_id, token, step),
            queue=queue,
            argsrepr=repr((job_id, STEP_TASKS[step].split(".")[1])),
        )
        for step in range(first_step, len(STEP_TASKS))
    ]
    return chain(*sigs)


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
