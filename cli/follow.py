"""A live progress bar for one job, read from the job store."""

from __future__ import annotations

import os
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from cli.stack import Stack
from cli.terminal_text import job_state_text, terminal_language
from fondation.errors import FondationError, StoreUnavailable
from fondation.steps import STEP_NAMES
from store.base import JobStore
from store.progress import Language
from store.records import FINAL_STATUSES, JobRecord


def follow_job(
    store: JobStore,
    job_id: str,
    *,
    timeout_s: float | None = None,
    stack: Stack | None = None,
    poll_s: float = 0.2,
    language: Language | None = None,
) -> JobRecord:
    """Show the job's steps until it ends; return its final record. The bar speaks the
    terminal's language (``language``, else the locale's), not PROGRESS_LANGUAGE."""
    if language is None:
        language = terminal_language(os.environ)
    console = Console(stderr=True)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    seen_log = -1
    total = len(STEP_NAMES)
    with Progress(
        TextColumn("[bold]{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:  # fmt: skip
        task = bar.add_task("Queued", total=total)
        while True:
            try:
                job = store.get_job(job_id)
                done = sum(1 for s in store.step_states(job_id) if s.status == "completed")
                for entry in store.get_logs(job_id, after_seq=seen_log):
                    seen_log = entry.seq
                    style = "red" if entry.level == "error" else "dim"
                    bar.console.print(f"[{style}]{entry.msg}[/{style}]")
            except StoreUnavailable:
                time.sleep(poll_s)
                continue
            bar.update(
                task,
                completed=total if job.status == "completed" else done,
                description=job_state_text(job, language),
            )
            if job.status in FINAL_STATUSES:
                return job
            if stack is not None and (failed := stack.failed_process()):
                raise FondationError(f"the local stack stopped: {failed}")
            if deadline is not None and time.monotonic() > deadline:
                raise FondationError(f"job {job_id} still {job.status} after {timeout_s} s")
            time.sleep(poll_s)
