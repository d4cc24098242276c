"""The lease loop: claim jobs, dispatch their chains, keep their leases, notice lost work,
honour cancels, and give work back on a graceful stop.

Two cadences. Every POLL_INTERVAL (or at once on a wake-up, when a lease is due for
renewal, or when a job falls due) the bridge talks to the store: it syncs the jobs it
holds (only when it holds some, and once at start), finishes cancels, renews due
leases, reclaims expired ones (at most once per POLL_INTERVAL, and only on a store
whose deployment does not reclaim them itself) and claims new work. On Convex the bridge
is told of new work by a query subscription (bridge/watch.py), and its poll is a slow
safety net (``store_poll_s``, CONVEX_SAFETY_POLL_S). Every
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
from collections.abc import Callable

import redis
from celery import Celery

from bridge.held import HeldJob
from bridge.metrics import BridgeMetrics
from bridge.peers import PeerWatch
from bridge.queue_depth import queue_depth, work_alive
from bridge.snapshot import BridgeSnapshot, HeldLease
from bridge.store_state import StoreState
from bridge.watch import WatchLink
from bridge.workers import consuming, live_workers
from fondation import keys
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import FondationError, LeaseLost, StoreAuthError, StoreUnavailable
from fondation.settings import Settings
from fondation.steps import STEP_NAMES, first_unfinished_step
from store.backoff import draw_jitter_ms
from store.base import JobStore
from store.records import Claim, JobRecord
from tasks.chain import build_chain, chain_task_ids

log = logging.getLogger(__name__)


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
        # Seconds between store polls: POLL_INTERVAL, or the safety net's slower pace
        # when a subscription tells the bridge of new work (bridge/service.py).
        self.store_poll_s = settings.poll_interval_s
        self.watch = WatchLink(self)
        # The wall-clock time (ms) at which a pending job falls due, told by the
        # subscription; the loop wakes then.
        self.due_at_ms: int | None = None
        self._held_synced = False
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
            subscription=self.watch.view(self.store_poll_s),
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

    def wake_at(self, due_at_ms: int | None) -> None:
        """Claim when a pending job falls due (from any thread); None: none waits. A new
        time wakes the loop, so that it sleeps no longer than until then."""
        if due_at_ms == self.due_at_ms:
            return
        self.due_at_ms = due_at_ms
        if due_at_ms is not None:
            self.wake.set()

    def _sleep_s(self) -> float:
        poll = self.store_state.backoff_s(self.store_poll_s)
        now = self.clock.monotonic()
        until_store = max(0.0, self.last_store_tick_mono + poll - now)
        liveness = self.settings.worker_liveness_interval_s
        until_liveness = max(0.0, self.last_liveness_mono + liveness - now)
        waits = [until_store, until_liveness]
        renewals = [h.last_renew_mono for h in self.held.values()]
        if renewals:
            waits.append(max(0.0, min(renewals) + self.settings.heartbeat_interval_s - now))
        due = self.due_at_ms
        if due is not None:
            waits.append(max(0.0, (due - self.clock_ms()) / 1000))
        return min(waits)

    def _job_due(self) -> bool:
        """A pending job fell due (the time the subscription gave)."""
        due = self.due_at_ms
        if due is not None and self.clock_ms() >= due:
            self.due_at_ms = None
            return True
        return False

    def _renewal_due(self, mono: float) -> bool:
        heartbeat = self.settings.heartbeat_interval_s
        return any(mono - h.last_renew_mono >= heartbeat for h in self.held.values())

    def tick(self) -> None:
        """One pass; the store part runs when the poll interval passed or a wake-up came,
        the liveness check when WORKER_LIVENESS_INTERVAL passed."""
        mono = self.clock.monotonic()
        woken = self.wake.is_set()
        self.wake.clear()
        poll = self.store_state.backoff_s(self.store_poll_s)
        job_due = self._job_due()
        if woken or job_due or mono - self.last_store_tick_mono >= poll:
            self.last_store_tick_mono = mono
            self._store_tick("wake" if woken else "due" if job_due else "poll")
        elif self._renewal_due(mono):
            # Between polls a lease due for renewal costs its renewal only.
            self._store_calls(self._handle_cancels_and_renewals)
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

    def _store_calls(self, calls: Callable[[], None]) -> None:
        try:
            calls()
        except (StoreUnavailable, StoreAuthError) as exc:
            self.store_state.failed(exc)
            return
        self.store_state.ok()

    def _store_tick(self, reason: str = "poll") -> None:
        """``reason``: "wake" (a wake-up), "due" (a job fell due), "poll" (the poll's
        own turn, which judges whether the subscription missed a job)."""
        try:
            self._sync_held()
            self._handle_cancels_and_renewals()
            # Expired leases are a matter of minutes: looking once per poll interval is
            # enough, and spares the store a write on each of a busy stack's wake-ups.
            # A Convex deployment reclaims them on its own cron (worker/crons.ts).
            mono = self.clock.monotonic()
            if (
                not self.store.reclaims_expired_leases
                and mono - self.last_reclaim_mono >= self.settings.poll_interval_s
            ):
                self.store.reclaim_expired(self.clock_ms(), self.settings.reclaim_batch)
                self.last_reclaim_mono = mono
            # A wake-up (a job ended, a client's announce) while the subscription says
            # nothing is ready claims nothing: a claim would find nothing, and the
            # subscription's next answer brings any new job.
            if not self.stopping.is_set() and not (reason == "wake" and self.watch.nothing_ready()):
                self._admit(by_poll=reason == "poll")
        except (StoreUnavailable, StoreAuthError) as exc:
            self.store_state.failed(exc)
            return
        self.store_state.ok()

    # --- held jobs ----------------------------------------------------------------

    def _sync_held(self) -> None:
        # Nothing held: nothing to ask the store, except at start, when jobs held under
        # this WORKER_ID by the process before a restart are taken back.
        if not self.held and self._held_synced:
            self._jobs = {}
            return
        self._held_synced = True
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
            progress = self.store.job_progress(job_id)
        except FondationError:
            return
        job = progress.job
        if job.status == "completed":
            self.metrics.steps_finished(progress.steps)
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

    def _admit(self, by_poll: bool = False) -> None:
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
        # What the poll claims on its own turn, the subscription should have announced.
        if claims and by_poll and self.watch.claimed(claims, self.clock_ms()):
            self.metrics.subscription_missed()

    def _first_step(self, job_id: str) -> int:
        done = {s.step for s in self.store.step_states(job_id) if s.status == "completed"}
        return first_unfinished_step(done)

    def _dispatch(self, claim: Claim) -> None:
        job: JobRecord = claim.job
        # The claim read where the chain starts, and wrote the job log's "Claimed by".
        first = claim.first_step
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
