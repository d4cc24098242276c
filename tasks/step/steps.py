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
from typing import NoReturn, TypeVar

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
from analysis.course.course import CourseTitles, build_docs
from analysis.course.job_prompt import requester_instructions
from analysis.course.regeneration import (
    COURSE_KEY,
    course_digest,
    parse_digest,
    regeneration_stats,
)
from analysis.engine import StepContext
from analysis.step_reuse import keep_step, reuse_step, saved_usage, step_key
from checkout.procgroup import ProcessGroups
from checkout.provider import CloneOptions
from checkout.repo_url import RepoSource, redact, source_for_repository
from fondation import keys
from fondation.cancel import CancelToken
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import (
    CancelRequested,
    FondationError,
    JobCanceled,
    LeaseLost,
    MalformedJob,
    PermanentError,
    WorkDeferred,
)
from fondation.steps import FINALIZE_STEP, STEP_NAMES, STEPS, step_line
from fondation.wake import announce
from store.backoff import draw_jitter_ms
from store.progress import waiting_text
from store.records import (
    REUSE_VALUE_MAX_CHARS,
    DocRecord,
    DocSpec,
    RepositoryRecord,
    ReuseEntry,
    ReuseKind,
    ReuseRecord,
    StepRecord,
    StepStart,
)
from tasks.step.publish import ChapterPublisher
from tasks.step.reuse_book import StoreReuseBook
from tasks.step.runtime import WorkerRuntime
from tasks.step.store_retry import retry_store

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_R = TypeVar("_R")


class StepRun:
    """One delivery of one step of one job."""

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

    # --- entry point --------------------------------------------------------------

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

    # --- the work of each step ----------------------------------------------------

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

    @staticmethod
    def _repository(start: StepStart) -> RepositoryRecord:
        if start.repository is None:
            job = start.job
            raise MalformedJob(
                f"job {job.id} names repository {job.repository_id}, which does not exist"
            )
        return start.repository

    def _source(self, repo: RepositoryRecord) -> RepoSource:
        s = self.rt.settings
        return source_for_repository(
            repo.full_name,
            repo.clone_url,
            allowed_hosts=s.git_hosts,
            allow_local=s.allow_local_repos,
        )

    def _clone_options(self, source: RepoSource, cancel: CancelToken) -> CloneOptions:
        s = self.rt.settings
        return CloneOptions(
            depth=s.clone_depth,
            # A local repository (the embedded mode) is read from disk: no account's.
            token=self._git_token() if source.kind == "https" else None,
            cancel=cancel,
            timeout_s=s.step_soft_time_limit_s,
            max_bytes=s.max_repo_bytes,
            max_files=s.max_repo_files,
        )

    def _git_token(self) -> str | None:
        """The clone's token, read afresh for each clone and kept only in memory: the
        owner's own on a store with users (a missing or unreadable one fails the job
        with the web's "reconnect GitHub" message), GIT_TOKEN otherwise."""
        store = self.rt.store
        stored = None
        if store.per_user_tokens:
            stored = self._retry(
                lambda: store.owner_github_token(self.job_id, self.token), "owner_github_token"
            )
        return self.rt.credentials.for_clone(store.per_user_tokens, stored)

    def _clone(self, start: StepStart, cancel: CancelToken) -> CloneArtifact:
        repo = self._repository(start)
        source = self._source(repo)
        ref = start.job.ref or repo.default_branch or None
        # A clone interrupted by a crash left nothing usable: start from an empty folder.
        self.rt.workspace.remove(self.job_id)
        self.rt.workspace.claim(self.job_id)
        dest = self.rt.workspace.checkout_dir(self.job_id)
        options = self._clone_options(source, cancel)
        result = self.rt.engine.checkouts.clone(source, ref, dest, options)
        # Written with the step's result, in the same store call.
        self.finish_log = (
            f"Cloned {source.display} at {result.commit[:12]}"
            f" ({result.files} files, {result.bytes} bytes)"
        )
        return CloneArtifact(
            url=source.display,
            ref=ref,
            commit=result.commit,
            files=result.files,
            bytes=result.bytes,
        )

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

    def _finalize(self, artifacts: dict[int, Artifact], start: StepStart) -> None:
        """The course completed: the index, the tutorials and the references join the
        chapters stored as their reviews ended, which keep their slugs and titles and
        are not written again unless they changed (a review run again)."""
        store = self.rt.store
        stored: dict[str, DocRecord] = {}
        if start.has_docs is not False:  # a call saved when nothing was stored before
            stored = {
                d.slug: d for d in self._retry(lambda: store.get_docs(self.job_id), "get_docs")
            }
        docs = build_docs(
            {k: v for k, v in artifacts.items() if k >= 1},
            repository_id=start.job.repository_id,
            titles=CourseTitles(stored.values()),
        )
        stats, digest, stats_line = self._course_diff(docs, start.reuse)
        changed = [d for d in docs if d.slug not in stored or not d.same_as(stored[d.slug])]
        self._retry(
            lambda: store.upsert_docs(self.job_id, self.token, changed, self.clock.now_ms()),
            "upsert_docs",
        )
        # A chapter an earlier run stored whole and this one in parts (or the reverse)
        # left docs the course no longer has: the page would list them.
        stale = sorted(set(stored) - {d.slug for d in docs})
        if stale:
            log.warning("removing docs of an earlier run: %s", stale, extra=self.extra)
            self._retry(
                lambda: store.remove_docs(self.job_id, self.token, stale, self.clock.now_ms()),
                "remove_docs",
            )
        count = len(docs)
        chapters = sum(1 for d in docs if d.kind == "chapter")
        tutorials = sum(1 for d in docs if d.kind == "tutorial")
        # The folder goes before the job is marked done: a completed job has left nothing
        # behind in jobs/. Its files are deleted in the background (see discard).
        self.rt.workspace.discard(self.job_id)
        # The web app's result type: data is a string. The usage stays in the step
        # records, where `fondation status` sums it.
        result = {
            "success": True,
            "message": f"{chapters} chapters and {tutorials} tutorials",
            "data": f"{count} documents",
        }
        self._retry(
            lambda: store.complete(
                self.job_id,
                self.token,
                result,
                count,
                self.clock.now_ms(),
                stats,
                keep=digest,
                log=stats_line,
            ),
            "complete",
        )
        self._left_chain(ended=True)
        log.info("Completed: %d docs", count, extra=self.extra)

    def _course_diff(
        self, docs: list[DocSpec], kept: list[ReuseRecord]
    ) -> tuple[dict[str, int], ReuseEntry | None, str | None]:
        """The web's regenerationStats against the repository's previous course, whose
        digest an earlier job kept (``kept``: the records of COURSE_KEY, read with the
        step's start); this course's digest, to keep for the next job (one record per
        job, so a finalize that runs again still compares with the job before it, not
        with itself; None when too large to keep); and the job log's line saying how
        the course differs (None for a first course). The digest and the line are
        written with the completion, in its transaction."""
        previous = next((parse_digest(r.value) for r in kept if r.job_id != self.job_id), None)
        stats = regeneration_stats(previous, docs)
        digest = json.dumps(course_digest(docs))
        keep = None
        if len(digest) <= REUSE_VALUE_MAX_CHARS:
            keep = ReuseEntry(kind="step", key=COURSE_KEY, variant=self.job_id, value=digest)
        line = None
        if previous is not None:
            line = redact(
                f"Course against the previous one: {stats['inserted']} inserted,"
                f" {stats['updated']} updated, {stats['skipped']} unchanged,"
                f" {stats['deleted']} deleted, {stats['rejected']} rejected"
            )
        return stats, keep, line

    # --- guards and outcomes ------------------------------------------------------

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


def _artifacts(steps: list[StepRecord]) -> dict[int, Artifact]:
    """The stored artifacts of the completed steps, by step number."""
    return {
        rec.step: STEP_ARTIFACTS[rec.step].model_validate_json(rec.artifact)
        for rec in steps
        if rec.status == "completed" and rec.artifact is not None and rec.step in STEP_ARTIFACTS
    }


def _typed(value: object, cls: type[_T]) -> _T | None:
    return value if isinstance(value, cls) else None
