"""The chain of a job by name: clone, the six analysis steps, then finalize, as Celery
signatures. The bridge sends it and the worker registers a task under each name
(tasks/step/celery_tasks.py); this module imports no worker code, so the bridge imports only it.

Task names and arguments are made for Flower: each task is named after its step, its
id starts with the job id ("<job>-<lease>-<step>"), and its shown arguments are the job
id and step name (the lease token is kept out of events and logs). Running workers of an
earlier release consume these names: they do not change.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, chain

from fondation.steps import STEPS

# One Celery task per step, named in the step table (fondation/steps.py).
STEP_TASKS: tuple[str, ...] = tuple(s.task for s in STEPS)


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
