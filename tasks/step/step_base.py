"""What every step of a job shares: who it is (the job, its lease token, its step), the
worker's runtime and clock, store calls that ride out a short outage, the job log, and the
wake-up when the chain stops."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from checkout.procgroup import ProcessGroups
from checkout.repo_url import redact
from fondation import keys
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import FondationError
from fondation.wake import announce
from tasks.step.runtime import WorkerRuntime
from tasks.step.store_retry import retry_store

log = logging.getLogger(__name__)
_R = TypeVar("_R")


class StepBase:
    """One delivery of one step of one job: its identity and the helpers every part of
    the step uses."""

    def __init__(
        self, rt: WorkerRuntime, job_id: str, token: str, step: int, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.rt = rt
        self.clock = clock
        self.job_id = job_id
        self.token = token
        self.step = step
        self.extra = {"job_id": job_id, "step": step, "worker": rt.worker_name}
        self.usage: str | None = None
        self.finish_log: str | None = None  # a job log line written with the result

    def process_groups(self) -> ProcessGroups:
        return ProcessGroups(self.rt.workspace.job_dir(self.job_id) / "procs")

    def _retry(self, call: Callable[[], _R], what: str) -> _R:
        return retry_store(
            call, grace_s=self.rt.settings.store_outage_grace_s, what=what, clock=self.clock
        )

    def _log(self, msg: str) -> None:
        try:
            self.rt.store.append_log(self.job_id, "info", redact(msg), self.clock.now_ms())
        except FondationError as exc:
            log.warning("job log not written: %s", exc, extra=self.extra)

    def _left_chain(self, *, ended: bool) -> None:
        """The job's chain stopped: wake the bridges, so one at MAX_CONCURRENT_JOBS claims
        the next job at once, and drop the beat key of a job that ended. One round trip."""
        try:
            pipe = self.rt.redis.pipeline(transaction=False)
            if ended:
                pipe.delete(keys.step_beat(self.job_id))
            announce(pipe, "finished")
            pipe.execute()
        except Exception as exc:  # best effort: polling and the beat's expiry cover it
            log.debug("end of chain not announced: %s", exc)
