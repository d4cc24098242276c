"""The lease loop: claim jobs, dispatch their chains, keep their leases, notice lost work,
honour cancels, and give work back on a graceful stop.

Two cadences. Every POLL_INTERVAL (or at once on a wake-up) the bridge talks to the
store: it syncs the jobs it holds, finishes cancels, renews due leases, reclaims expired
ones (at most once per POLL_INTERVAL) and claims new work. Every
WORKER_LIVENESS_INTERVAL it checks, in Redis only, that the work of each held job is
alive: a step beat, or a step message waiting in the queue.
Work missing for longer than three liveness intervals is lost (its worker died) and the
job is failed as a transient attempt, which retries it with backoff from its first step
not yet completed.

On the liveness cadence the bridge also beats in Redis, and once per POLL_INTERVAL it
looks after the jobs of bridges whose beat is gone (bridge/peers.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import redis
from celery import Celery

from bridge.metrics import BridgeMetrics
from bridge.peers import PeerWatch
from bridge.queue_depth import queue_depth, work_alive
from bridge.snapshot import BridgeSnapshot, HeldLease
from bridge.workers import consuming, live_workers
from fondation import keys
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import FondationError, LeaseLost, StoreAuthError, StoreUnavailable
from fondation.settings import Settings
from fondation.steps import STEP_NAMES
from store.backoff import draw_jitter_ms
from store.base import JobStore
from store.records import Claim, JobRecord
from tasks.chain import build_chain, chain_task_ids

log = logging.getLogger(__name__)


@dataclass
class HeldJob:
    job_id: str
    token: str
    first_step: int
    dispatched_mono: float
    last_renew_mono: float
    claimed_ms: int
    missing_since_mono: float | None = None
    task_ids: list[str] = field(default_factory=list)


class StoreState:
    """Logs one line per change between reachable and unreachable, never one per poll."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.down_since: float | None = None
        self.failures = 0

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning(
                "job store reachable again after %.1f s", self.clock.monotonic() - self.down_since
            )
        self.down_since = None
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.down_since is None:
            self.down_since = self.clock.monotonic()
            log.error("job store unavailable, backing off: %s", exc)

    def backoff_s(self, poll_interval_s: float) -> float:
        if not self.failures:
            return poll_interval_s
        return float(min(poll_interval_s * 2 ** min(self.failures - 1, 6), 60.0))


class Bridge:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        app: Celery,
        redis_client: redis.Redis,
        *,
        clock: Clock = SYSTEM_CLOCK,
        metrics: BridgeMetrics | None = None,
    ) -> None:
        """``clock`` gives both the store's time (``now_ms``) and the loop's intervals
        and waits; a test passes a ``FakeClock`` and moves it on instead of sleeping."""
        self.settings = settings
        self.store = store
        self.app = app
        self.redis = redis_client
        self.clock = clock
        self.clock_ms = clock.now_ms
        self.metrics = metrics or BridgeMetrics()
        self.owner = settings.worker_id
        self.held: dict[str, HeldJob] = {}
        self.store_state = StoreState(clock)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.last_tick_mono: float | None = None
        self.last_store_tick_mono: float = 0.0
        self.last_liveness_mono: float = 0.0
        self.last_reclaim_mono = float("-inf")
        self.last_peers_mono = float("-inf")
        self._jobs: dict[str, JobRecord] = {}
        self.peers = PeerWatch(
            settings, store, redis_client, owner=self.owner, clock_ms=clock.now_ms,
            metrics=self.metrics, on_released=self.wake.set,
        )  # fmt: skip
        self.metrics.watch(
            held_count=lambda: len(self.held),
            worker_count=lambda: len(consuming(live_workers(redis_client), settings.celery_queue)),
        )

    def snapshot(self) -> BridgeSnapshot:
        """What the health view may know of this bridge, on the bridge's clock. Safe from
        another thread: ``_jobs`` is replaced whole on each sync, never changed in place."""
        jobs = self._jobs
        last = self.last_tick_mono
        return BridgeSnapshot(
            owner=self.owner,
            now_ms=self.clock_ms(),
            since_last_tick_s=None if last is None else self.clock.monotonic() - last,
            held=tuple(HeldLease(j.id, j.lease_until) for j in jobs.values()),
            store_failures=self.store_state.failures,
        )

    # --- the loop -----------------------------------------------------------------

    def run(self) -> None:
        """Until ``stopping`` is set; then hand work back (``shutdown``)."""
        log.info("bridge %s started", self.owner, extra={"bridge": self.owner})
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:
                # One bad tick (a driver error nobody foresaw) must not end the bridge:
                # its held jobs would wait for their leases to expire. Log it, go on.
                log.exception("bridge tick failed; retrying", extra={"bridge": self.owner})
                self.clock.wait(self.stopping, min(self.settings.poll_interval_s, 5.0))
            self.clock.wait(self.wake, self._sleep_s())
        self.shutdown()

    def _sleep_s(self) -> float:
        poll = self.store_state.backoff_s(self.settings.poll_interval_s)
        now = self.clock.monotonic()
        until_store = max(0.0, self.last_store_tick_mono + poll - now)
        liveness = self.settings.worker_liveness_interval_s
        until_liveness = max(0.0, self.last_liveness_mono + liveness - now)
        return min(until_store, until_liveness)

    def tick(self) -> None:
        """One pass; the store part runs when the poll interval passed or a wake-up came,
        the liveness check when WORKER_LIVENESS_INTERVAL passed."""
        mono = self.clock.monotonic()
        woken = self.wake.is_set()
        self.wake.clear()
        poll = self.store_state.backoff_s(self.settings.poll_interval_s)
        if woken or mono - self.last_store_tick_mono >= poll:
            self.last_store_tick_mono = mono
            self._store_tick()
        # On its own cadence, not on every wake-up: it reads the whole queue, and a busy
        # stack wakes the bridge for every job that ends.
        if mono - self.last_liveness_mono >= self.settings.worker_liveness_interval_s:
            self.last_liveness_mono = mono
            self._beat()
            self._check_liveness()
        if mono - self.last_peers_mono >= self.settings.poll_interval_s:
            self.last_peers_mono = mono
            self._check_peers(mono)
        self.last_tick_mono = self.clock.monotonic()

    def _beat(self) -> None:
        try:
            self.peers.beat()
        except redis.RedisError as exc:
            log.debug("bridge beat not sent, Redis unavailable: %s", exc)

    def _check_peers(self, now_mono: float) -> None:
        try:
            self.peers.check(now_mono)
        except redis.RedisError as exc:
            log.debug("other bridges not checked, Redis unavailable: %s", exc)
        except (StoreUnavailable, StoreAuthError) as exc:
            self.store_state.failed(exc)
        except FondationError as exc:  # one unreadable job must not stop the others' care
            log.warning("other bridges' jobs not checked: %s", exc, extra={"bridge": self.owner})

    def _store_tick(self) -> None:
        try:
            self._sync_held()
            self._handle_cancels_and_renewals()
            # Expired leases are a matter of minutes: looking once per poll interval is
            # enough, and spares the store a write on each of a busy stack's wake-ups.
            mono = self.clock.monotonic()
            if mono - self.last_reclaim_mono >= self.settings.poll_interval_s:
                self.store.reclaim_expired(self.clock_ms(), self.settings.reclaim_batch)
                self.last_reclaim_mono = mono
            if not self.stopping.is_set():
                self._admit()
        except (StoreUnavailable, StoreAuthError) as exc:
            self.store_state.failed(exc)
            return
        self.store_state.ok()

    # --- held jobs ----------------------------------------------------------------

    def _sync_held(self) -> None:
        limit = self.settings.max_concurrent_jobs * 4
        current = {j.id: j for j in self.store.held_jobs(self.owner, limit)}
        for job_id in list(self.held):
            if job_id not in current or current[job_id].lease_token != self.held[job_id].token:
                self._forget(job_id)
        for job_id, job in current.items():
            if job_id not in self.held and job.lease_token:
                # Ours in the store but not in memory: a restart with the same WORKER_ID.
                mono = self.clock.monotonic()
                self.held[job_id] = HeldJob(
                    job_id, job.lease_token, self._first_step(job_id), mono, mono, self.clock_ms()
                )
        self._jobs = current

    def _forget(self, job_id: str) -> None:
        held = self.held.pop(job_id, None)
        if held is None:
            return
        try:
            job = self.store.get_job(job_id)
            if job.status == "completed":
                self.metrics.steps_finished(self.store.step_states(job_id))
        except FondationError:
            return
        if job.is_final and job.locked_by == self.owner and job.lease_token == held.token:
            # Ended under us, as the web app's cancel does (status written, lease left):
            # stop the running step now rather than at its worker's next renewal.
            self._stop_work(held)
        self.metrics.job_finished(job, self.clock_ms() - held.claimed_ms)

    def _handle_cancels_and_renewals(self) -> None:
        now_mono = self.clock.monotonic()
        for job_id, held in list(self.held.items()):
            job = self._jobs.get(job_id)
            if job is not None and job.cancel_requested:
                self._cancel(held)
                continue
            if now_mono - held.last_renew_mono >= self.settings.heartbeat_interval_s:
                try:
                    state = self.store.renew(
                        job_id, held.token, self.settings.lease_ms, self.clock_ms()
                    )
                    held.last_renew_mono = now_mono
                    self.metrics.lease_renewed()
                    if state.cancel_requested:
                        self._cancel(held)
                except LeaseLost as exc:
                    log.warning(
                        "lease lost on job %s: %s",
                        job_id,
                        exc.reason,
                        extra={"job_id": job_id, "bridge": self.owner},
                    )
                    self.metrics.lease_lost()
                    self._revoke(held)
                    self.held.pop(job_id, None)

    def _stop_work(self, held: HeldJob) -> None:
        """Stop the job's running step (the flag its worker's watchdog polls) and the
        steps not yet started."""
        try:
            self.redis.set(keys.cancel_flag(held.job_id), "1", ex=86_400)
        except redis.RedisError as exc:
            log.warning("cancel flag not set: %s", exc)
        self._revoke(held)

    def _cancel(self, held: HeldJob) -> None:
        self._stop_work(held)
        try:
            job = self.store.mark_canceled(held.job_id, held.token, self.clock_ms())
            self.store.append_log(held.job_id, "info", "Canceled", self.clock_ms())
            self.metrics.job_finished(job, self.clock_ms() - held.claimed_ms)
        except LeaseLost:
            pass
        self.held.pop(held.job_id, None)
        log.info("job %s canceled", held.job_id, extra={"job_id": held.job_id})

    def _revoke(self, held: HeldJob) -> None:
        try:
            self.app.control.revoke(held.task_ids or chain_task_ids(held.job_id, held.token, 0))
        except Exception as exc:  # a broadcast failure must not stop the loop
            log.warning("revoke of job %s failed: %s", held.job_id, exc)

    # --- lost work ----------------------------------------------------------------

    def _check_liveness(self) -> None:
        if not self.held:
            return
        grace_s = self.settings.worker_liveness_interval_s * 3
        now_mono = self.clock.monotonic()
        jobs = list(self.held.values())
        try:
            alive_now = work_alive(
                self.redis, self.settings.celery_queue, [(h.job_id, h.token) for h in jobs]
            )
        except redis.RedisError as exc:
            log.debug("liveness check skipped, Redis unavailable: %s", exc)
            return
        for held, alive in zip(jobs, alive_now, strict=True):
            if alive or now_mono - held.dispatched_mono < grace_s:
                held.missing_since_mono = None
            elif held.missing_since_mono is None:
                held.missing_since_mono = now_mono
            elif now_mono - held.missing_since_mono >= grace_s:
                self._work_lost(held)

    def _work_lost(self, held: HeldJob) -> None:
        step = self._first_step(held.job_id)
        reason = (
            f"work lost: no worker ran {STEP_NAMES[min(step, len(STEP_NAMES) - 1)]}"
            f" for {self.settings.worker_liveness_interval_s * 3:.0f} s (worker died?)"
        )
        log.warning("job %s: %s", held.job_id, reason, extra={"job_id": held.job_id})
        self._revoke(held)
        try:
            job = self.store.fail(
                held.job_id, held.token, reason, False, self.clock_ms(), draw_jitter_ms()
            )
            self.metrics.work_lost()
            if job.is_final:
                self.metrics.job_finished(job, self.clock_ms() - held.claimed_ms)
            else:
                self.metrics.retried()
        except LeaseLost:
            pass
        except (StoreUnavailable, StoreAuthError) as exc:
            self.store_state.failed(exc)
            return
        self.held.pop(held.job_id, None)
        self.wake.set()  # claim again at once when the backoff allows

    # --- admission and dispatch ---------------------------------------------------

    def _admit(self) -> None:
        room = self.settings.max_concurrent_jobs - len(self.held)
        try:
            depth = queue_depth(self.redis, self.settings.celery_queue)
        except redis.RedisError as exc:
            log.warning("Redis unavailable, not claiming: %s", exc)
            return
        self.metrics.queue_depth(depth)
        room = min(room, self.settings.queue_high_water - depth)
        if room <= 0:
            return
        claims = self.store.claim_batch(self.owner, room, self.settings.lease_ms, self.clock_ms())
        for claim in claims:
            self._dispatch(claim)

    def _first_step(self, job_id: str) -> int:
        done = {s.step for s in self.store.step_states(job_id) if s.status == "completed"}
        step = 0
        while step in done:
            step += 1
        return min(step, len(STEP_NAMES) - 1)

    def _dispatch(self, claim: Claim) -> None:
        job: JobRecord = claim.job
        first = self._first_step(job.id)
        now = self.clock_ms()
        self.metrics.claimed(now - (job.run_at or job.created_at))
        mono = self.clock.monotonic()
        held = HeldJob(
            job.id,
            claim.lease_token,
            first,
            mono,
            mono,
            now,
            task_ids=chain_task_ids(job.id, claim.lease_token, first),
        )
        try:
            self.redis.delete(keys.cancel_flag(job.id))
            build_chain(
                self.app, self.settings.celery_queue, job.id, claim.lease_token, first
            ).apply_async()
        except Exception as exc:
            log.error(
                "dispatch of job %s failed, giving it back: %s",
                job.id,
                exc,
                extra={"job_id": job.id},
            )
            self.store.release(
                job.id, claim.lease_token, self.clock_ms(), f"dispatch failed: {exc}"
            )
            return
        self.held[job.id] = held
        resume = f" from {STEP_NAMES[first]}" if first else ""
        self.store.append_log(job.id, "info", f"Claimed by {self.owner}{resume}", now)
        log.info(
            "job %s dispatched%s", job.id, resume, extra={"job_id": job.id, "bridge": self.owner}
        )

    # --- graceful stop ------------------------------------------------------------

    def shutdown(self) -> None:
        """Jobs whose work has not started go back to pending; running ones carry on
        (their workers renew the lease) and finish without us."""
        for job_id, held in list(self.held.items()):
            try:
                job = self.store.get_job(job_id)
                if job.status == "claimed":
                    self._revoke(held)
                    self.store.release(
                        job_id,
                        held.token,
                        self.clock_ms(),
                        "bridge stopped before the work started",
                    )
                    log.info("job %s given back to pending", job_id, extra={"job_id": job_id})
            except FondationError as exc:
                log.warning("job %s left to expire: %s", job_id, exc, extra={"job_id": job_id})
        self.held.clear()
        try:
            self.peers.leave()
        except redis.RedisError as exc:
            log.debug("bridge beat not removed, Redis unavailable: %s", exc)
        log.info("bridge %s stopped", self.owner, extra={"bridge": self.owner})
