"""How a step ends otherwise than with its artifact: a poison message stopped, a failed
attempt recorded, the job given back until a wait ends, a cancel finished, a lost lease
left alone."""

from __future__ import annotations

import logging
from typing import NoReturn

from celery.exceptions import Ignore

from checkout.repo_url import redact
from fondation import keys
from fondation.cancel import CancelToken
from fondation.errors import (
    CancelRequested,
    FondationError,
    LeaseLost,
    WorkDeferred,
)
from fondation.steps import STEP_NAMES
from store.backoff import draw_jitter_ms
from store.progress import waiting_text
from tasks.step.step_base import StepBase

log = logging.getLogger(__name__)


class StepOutcomes(StepBase):
    """The endings of a step that stores no artifact."""

    def _guard_deliveries(self, cancel: CancelToken) -> None:
        """A step that kills its worker is redelivered forever (reject_on_worker_lost);
        count the redeliveries of each step per attempt and fail the attempt past the
        cap. The same round trip gives the step its first beat and reads the cancel flag.

        Only redeliveries are counted: kombu flags every message it gives back
        (``_do_restore_message``), whichever way it comes back, and a first delivery
        needs no Redis round trip (its beat comes from the watchdog, well within the
        bridges' grace of three liveness intervals; its cancel from ``begin_step``)."""
        key = keys.deliveries(self.job_id, self.token, self.step)
        try:
            pipe = self.rt.redis.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 86_400)
            self.rt.watchdog.add_beat(pipe, self.job_id)
            redeliveries, _, _, canceled = pipe.execute()
        except Exception as exc:  # Redis trouble must not block the step itself
            log.warning("delivery count unavailable: %s", exc, extra=self.extra)
            return
        if canceled:
            cancel.cancel("canceled")
        deliveries = int(redeliveries) + 1
        if deliveries > self.rt.settings.max_deliveries:
            self.record_failure(
                f"{STEP_NAMES[self.step]} was delivered {deliveries} times; its worker keeps"
                " dying (poison job?)",
                permanent=False,
            )
            raise Ignore()

    def record_failure(self, error: str, *, permanent: bool) -> None:
        error = redact(error)
        try:
            jitter = draw_jitter_ms()
            job = self._retry(
                lambda: self.rt.store.fail(
                    self.job_id, self.token, error, permanent, self.clock.now_ms(), jitter
                ),
                "fail",
            )
        except LeaseLost:
            return  # someone else already decided this attempt's fate
        except FondationError as exc:
            # The job stays held; the bridge notices the lost work and retries it.
            log.error("could not record failure of job %s: %s", self.job_id, exc, extra=self.extra)
            return
        log.error("job %s %s: %s", self.job_id, job.status, error, extra=self.extra)
        # Cleaned after any failure: a retry may run on another worker, and a shallow
        # checkout is cheap to make again.
        self.rt.workspace.remove(self.job_id)
        self._left_chain(ended=job.is_final)

    def _defer(self, exc: WorkDeferred) -> NoReturn:
        """Give the job back until the shared limit it waits for should have passed: the
        chain stops here, the worker is free, no attempt is spent, and the job's progress
        says why it waits. Its checkout and scratch folder stay, for a rerun here."""
        s = self.rt.settings
        progress = waiting_text(exc.reason, exc.until_ms, s.progress_language, s.progress_zone)
        try:
            self._retry(
                lambda: self.rt.store.release(
                    self.job_id, self.token, self.clock.now_ms(), str(exc),
                    run_at_ms=exc.until_ms, progress=progress,
                ),
                "release",
            )  # fmt: skip
        except CancelRequested:
            self._finish_cancel()
        except LeaseLost as lost:
            self._abandon(lost.reason)
        wait_s = max(0.0, (exc.until_ms - self.clock.now_ms()) / 1000)
        self._log(f"Waiting {wait_s:.0f} s for Claude ({exc.reason}); the job was given back")
        log.info("job %s given back for %.0f s: %s", self.job_id, wait_s, exc, extra=self.extra)
        self._left_chain(ended=False)
        raise Ignore()

    def _stop_canceled(self, cancel: CancelToken) -> NoReturn:
        if cancel.lease_lost:
            self._abandon(cancel.reason)
        self._finish_cancel()

    def _finish_cancel(self) -> NoReturn:
        try:
            self.rt.store.mark_canceled(self.job_id, self.token, self.clock.now_ms())
        except (LeaseLost, FondationError) as exc:
            log.info("cancel of job %s finished elsewhere: %s", self.job_id, exc, extra=self.extra)
        self._log(f"Canceled during {STEP_NAMES[self.step]}")
        self.rt.workspace.remove(self.job_id)
        self._left_chain(ended=True)
        raise Ignore()

    def _abandon(self, reason: str) -> NoReturn:
        """The job is no longer ours: stop the chain and drop local files if it ended."""
        log.warning("stopping job %s: lease lost (%s)", self.job_id, reason, extra=self.extra)
        try:
            if self.rt.store.get_job(self.job_id).is_final:
                self.rt.workspace.remove(self.job_id)
        except FondationError:
            pass
        raise Ignore()
