"""Running one step of a job: fence, skip if done, do the work, store the artifact.

Idempotency: a step whose artifact is stored is skipped; a step that ran but did not store
its artifact (crash, kill) runs again from scratch. Engines are pure, so a second run is
harmless. Every store write is fenced by the lease token, so a step of a chain whose job
was taken over or canceled stops at its next write.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from typing import TypeVar

from celery.exceptions import Ignore, SoftTimeLimitExceeded

from analysis.course.artifacts import (
    STEP_ARTIFACTS,
    AbstractionsArtifact,
    Artifact,
    ChaptersArtifact,
    CloneArtifact,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
)
from analysis.course.job_prompt import requester_instructions
from analysis.course.regeneration import COURSE_KEY
from analysis.engine import StepContext
from analysis.step_reuse import keep_step, reuse_step, saved_usage, step_key
from fondation.cancel import CancelToken
from fondation.errors import (
    CancelRequested,
    JobCanceled,
    LeaseLost,
    PermanentError,
    WorkDeferred,
)
from fondation.steps import FINALIZE_STEP, STEP_NAMES, STEPS, step_line
from store.records import (
    ReuseKind,
    StepRecord,
    StepStart,
)
from tasks.step.clone_work import CloneWork
from tasks.step.outcomes import StepOutcomes
from tasks.step.publish import ChapterPublisher
from tasks.step.reuse_book import StoreReuseBook
from tasks.step.save_work import SaveWork

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class StepRun(CloneWork, SaveWork, StepOutcomes):
    """One delivery of one step of one job: fence, skip if done, work, store."""

    def run(self, *, redelivered: bool = False) -> None:
        """Return to let the chain go on; raise ``Ignore`` to stop it quietly; raise
        anything else to stop it as a failure (the job's failure is recorded first).

        ``redelivered`` is the broker's flag: the message was given back (its worker
        died, or lost Redis, before the ack) and comes round again."""
        cancel = CancelToken()
        if redelivered:
            self._guard_deliveries(cancel)
        # The watchdog beats from the first store write to the last, so a step that is
        # waiting out a store outage shows as alive to the bridges, not as lost work.
        with self.rt.watchdog.watch(self.job_id, self.token, cancel):
            start = self._start()
            if start.step.status == "completed":
                self._skip_done_step(start)
                return
            # "Step 3/6: Determining order"; the clone and the save have no number.
            log.info("%s", step_line(self.step), extra=self.extra)
            started = self.clock.monotonic()
            self._run_work(cancel, start)
        log.info(
            "%s done in %.2f s",
            STEP_NAMES[self.step],
            self.clock.monotonic() - started,
            extra=self.extra,
        )

    def _skip_done_step(self, start: StepStart) -> None:
        """A delivery of a step whose artifact is stored: a message restored after its
        run ended (the worker died, or lost Redis, before the ack). When a later step has
        a record, that run already sent the rest of the chain: sending it again would run
        the next step twice, so stop here. Otherwise the run may have died before sending
        it, and returning lets the chain go on."""
        later = start.later_steps()
        if later:
            log.info(
                "%s already done and the chain moved on to step %d; this delivery stops",
                STEP_NAMES[self.step], max(later), extra=self.extra,
            )  # fmt: skip
            raise Ignore()
        log.info("%s already done, skipped", STEP_NAMES[self.step], extra=self.extra)

    def _start(self) -> StepStart:
        # The save compares its course with the previous one, kept under COURSE_KEY:
        # the lookup comes with the start, a call saved.
        reuse_key: tuple[ReuseKind, str] | None = (
            ("step", COURSE_KEY) if self.step == FINALIZE_STEP else None
        )
        try:
            return self._retry(
                lambda: self.rt.store.begin_step(
                    self.job_id,
                    self.token,
                    self.step,
                    self.rt.worker_name,
                    self.clock.now_ms(),
                    reuse_key,
                ),
                "begin_step",
            )
        except CancelRequested:
            self._finish_cancel()
        except LeaseLost as exc:
            self._abandon(exc.reason)

    def _run_work(self, cancel: CancelToken, start: StepStart) -> None:
        try:
            try:
                artifact = self._work(cancel, start)
            finally:
                # A subprocess still alive once its step ended is an orphan.
                self.process_groups().kill_all()
            cancel.check()
            if artifact is not None:
                payload = artifact.model_dump_json()
                self._retry(
                    lambda: self.rt.store.finish_step(
                        self.job_id,
                        self.token,
                        self.step,
                        payload,
                        self.clock.now_ms(),
                        self.usage,
                        log=self.finish_log,
                    ),
                    "finish_step",
                )
        except JobCanceled:
            self._stop_canceled(cancel)
        except LeaseLost as exc:
            self._abandon(exc.reason)
        except WorkDeferred as exc:
            self._defer(exc)
        except SoftTimeLimitExceeded:
            self.record_failure(
                f"{STEP_NAMES[self.step]} exceeded its soft time limit", permanent=False
            )
            raise
        except PermanentError as exc:
            self.record_failure(str(exc), permanent=True)
            raise
        except Exception as exc:
            self.record_failure(f"{type(exc).__name__}: {exc}", permanent=False)
            raise

    def _work(self, cancel: CancelToken, start: StepStart) -> Artifact | None:
        if self.step == 0:
            return self._clone(start, cancel)
        artifacts = _artifacts(start.steps)
        ctx = self._context(start, artifacts, cancel)
        engine = self.rt.engine
        if self.step == FINALIZE_STEP:
            self._finalize(artifacts, start)
            return None
        method = STEPS[self.step].engine_method
        assert method is not None, f"step {self.step} has no engine method"
        run: Callable[[StepContext], Artifact] = getattr(engine, method)
        publisher = self._chapter_publisher(start, ctx, cancel)
        key = self._step_key(ctx, artifacts)
        kept = None if key is None or ctx.reuse is None else reuse_step(ctx.reuse, self.step, key)
        if kept is not None:
            artifact, spent = kept
            self.usage = json.dumps(saved_usage(spent), sort_keys=True)
            self._log(f"{STEP_NAMES[self.step]}: reused, the repository's tree is unchanged")
            if isinstance(artifact, ReviewArtifact):
                # Reviews reused whole: every chapter is readable at once.
                for chapter in artifact.chapters:
                    publisher(chapter)
            publisher.close(store_waiting=True)
            return artifact
        ctx.on_chapter_reviewed = publisher
        try:
            result = run(ctx)
        except BaseException:
            publisher.close(store_waiting=False)
            raise
        else:
            # The chapters stored before the step's artifact: the course shows each
            # before the step is recorded as done.
            publisher.close(store_waiting=True)
        finally:
            self._keep_raw_outputs(ctx)
        usage = engine.step_usage(ctx, self.step)
        self.usage = None if usage is None else json.dumps(usage, sort_keys=True)
        if key is not None and ctx.reuse is not None:
            keep_step(ctx.reuse, self.step, key, result, usage)
        return result

    def _chapter_publisher(
        self, start: StepStart, ctx: StepContext, cancel: CancelToken
    ) -> ChapterPublisher:
        """Stores each chapter as the engine reports its review done (whichever step
        reviews), so the course page shows it while the rest is written."""
        if ctx.chapters is not None:
            total = len(ctx.chapters.chapters)
        else:
            total = 0 if ctx.order is None else len(ctx.order.order)
        return ChapterPublisher(
            self.rt.store, self.job_id, self.token, start.job.repository_id, total, cancel,
            grace_s=self.rt.settings.store_outage_grace_s, clock=self.clock,
        )  # fmt: skip

    def _step_key(self, ctx: StepContext, artifacts: dict[int, Artifact]) -> str | None:
        """The step's key for whole-step reuse: None when the tree cannot be read."""
        tree = None if ctx.reuse is None else ctx.reuse.tree()
        if tree is None:
            return None
        identity = self.rt.engine.reuse_identity()
        if identity is None:
            return None
        return step_key(identity, self.step, tree.root, ctx.prompt, artifacts)

    def _keep_raw_outputs(self, ctx: StepContext) -> None:
        """Copy the Claude CLI's raw outputs and call records out of the scratch folder
        (removed with the job) so a failure can be replayed without paying again."""
        source = ctx.work_dir / "claude"
        if not source.is_dir():
            return
        try:
            shutil.copytree(
                source, self.rt.workspace.raw_dir(self.job_id), dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("home", "cache"),
            )  # fmt: skip
        except OSError as exc:
            log.warning("raw outputs not kept: %s", exc, extra=self.extra)

    def _context(
        self, start: StepStart, artifacts: dict[int, Artifact], cancel: CancelToken
    ) -> StepContext:
        cloned = artifacts.get(0)
        if not isinstance(cloned, CloneArtifact):
            raise LeaseLost(self.job_id, "the clone artifact is missing")
        self.rt.workspace.claim(self.job_id)
        checkout = self.rt.workspace.checkout_dir(self.job_id)
        checkouts = self.rt.engine.checkouts
        if not checkouts.holds(checkout, cloned.commit):
            # Any worker may run any step: re-create the checkout at the recorded commit.
            source = self._source(self._repository(start))
            checkouts.ensure(
                source, cloned.ref, cloned.commit, checkout, self._clone_options(source, cancel)
            )
        scratch = self.rt.workspace.scratch_dir(self.job_id)
        scratch.mkdir(parents=True, exist_ok=True)
        ctx = StepContext(
            process_groups=self.process_groups(),
            job_id=self.job_id,
            checkout=checkout,
            prompt=requester_instructions(start.job.prompt, self.rt.settings.course_language),
            work_dir=scratch,
            cancel=cancel,
            user_id=start.job.user_id,
            redis=self.rt.redis,
            note=self._log,
            reuse=StoreReuseBook(
                self.rt.store,
                self.job_id,
                self.token,
                checkout,
                fresh=bool(start.job.fresh),
                clock=self.clock,
                note=self._log,
            ),
        )
        ctx.abstractions = _typed(artifacts.get(1), AbstractionsArtifact)
        ctx.relationships = _typed(artifacts.get(2), RelationshipsArtifact)
        ctx.order = _typed(artifacts.get(3), OrderArtifact)
        ctx.chapters = _typed(artifacts.get(4), ChaptersArtifact)
        ctx.review = _typed(artifacts.get(5), ReviewArtifact)
        return ctx


def _artifacts(steps: list[StepRecord]) -> dict[int, Artifact]:
    """The stored artifacts of the completed steps, by step number."""
    return {
        rec.step: STEP_ARTIFACTS[rec.step].model_validate_json(rec.artifact)
        for rec in steps
        if rec.status == "completed" and rec.artifact is not None and rec.step in STEP_ARTIFACTS
    }


def _typed(value: object, cls: type[_T]) -> _T | None:
    return value if isinstance(value, cls) else None
