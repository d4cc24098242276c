"""The other bridges: each bridge beats in Redis, and looks after the jobs a dead one left.

A bridge's held jobs are its own to watch: when their worker dies, it notices within
three liveness intervals (``Bridge._check_liveness``). When the bridge dies with the
worker (one host lost, say), nobody watches them and they would wait for their lease
to expire (LEASE_TIME, 5 minutes by default). So every bridge also keeps a beat in
Redis (a key with a time-to-live of three liveness intervals), and every bridge checks,
once per POLL_INTERVAL, the jobs leased to bridges whose beat is gone: a job whose work
is alive (a step beat, or a step waiting in the queue) is left alone, since its worker
renews the lease and finishes it; a job with no work alive for three liveness intervals
is failed as a transient attempt, which retries it with backoff from its first step not
yet completed, as a bridge does for its own jobs.

Every write is fenced by the lease token read from the store: when the bridge was only
slow and comes back, or two survivors act on the same job, one write wins and the
others are refused (``LeaseLost``). The attempt is counted once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis

from bridge.metrics import BridgeMetrics
from bridge.queue_depth import work_alive
from fondation import keys
from fondation.errors import LeaseLost
from fondation.settings import Settings
from store.backoff import draw_jitter_ms
from store.base import JobStore

log = logging.getLogger(__name__)


@dataclass
class _Orphan:
    token: str
    missing_since_mono: float


class PeerWatch:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        redis_client: redis.Redis,
        *,
        owner: str,
        clock_ms: Callable[[], int],
        metrics: BridgeMetrics,
        on_released: Callable[[], None],
    ) -> None:
        """``on_released`` runs after a job was given back, so that the bridge claims it
        again without waiting for its next poll."""
        self.settings = settings
        self.store = store
        self.redis = redis_client
        self.owner = owner
        self.clock_ms = clock_ms
        self.metrics = metrics
        self.on_released = on_released
        self._orphans: dict[str, _Orphan] = {}

    @property
    def beat_ttl_ms(self) -> int:
        return max(int(self.settings.worker_liveness_interval_s * 3 * 1000), 1)

    def beat(self) -> None:
        """Refresh this bridge's beat; call it at least once per liveness interval."""
        pipe = self.redis.pipeline()
        pipe.set(keys.bridge_alive(self.owner), "1", px=self.beat_ttl_ms)
        pipe.sadd(keys.BRIDGES, self.owner)
        pipe.execute()

    def leave(self) -> None:
        """On a graceful stop: the beat goes at once, and the other bridges look after
        whatever is still leased to this one (running jobs finish without it)."""
        self.redis.delete(keys.bridge_alive(self.owner))

    def dead_peers(self) -> list[str]:
        others = sorted(o.decode() if isinstance(o, bytes) else str(o)
                        for o in self.redis.smembers(keys.BRIDGES))  # fmt: skip
        others = [o for o in others if o != self.owner]
        if not others:
            return []
        pipe = self.redis.pipeline()
        for other in others:
            pipe.exists(keys.bridge_alive(other))
        return [o for o, alive in zip(others, pipe.execute(), strict=True) if not alive]

    def check(self, now_mono: float) -> None:
        """Look at the jobs of dead bridges; give back those whose work has been gone for
        three liveness intervals. Raises ``redis.RedisError`` and the store's errors."""
        grace_s = self.settings.worker_liveness_interval_s * 3
        orphans: list[tuple[str, str, str]] = []  # (peer, job id, lease token)
        for peer in self.dead_peers():
            held = self.store.held_jobs(peer, self.settings.max_concurrent_jobs * 4)
            jobs = [(peer, j.id, j.lease_token) for j in held if j.lease_token]
            if not jobs:
                # Nothing is leased to it any more; a bridge that comes back adds itself.
                self.redis.srem(keys.BRIDGES, peer)
            orphans += jobs
        # One read of the queue for the jobs of every dead bridge.
        pairs = [(job_id, token) for _, job_id, token in orphans]
        alive = work_alive(self.redis, self.settings.celery_queue, pairs)
        for (peer, job_id, token), is_alive in zip(orphans, alive, strict=True):
            known = self._orphans.get(job_id)
            if is_alive:
                self._orphans.pop(job_id, None)
            elif known is None or known.token != token:
                self._orphans[job_id] = _Orphan(token, now_mono)
            elif now_mono - known.missing_since_mono >= grace_s:
                self._give_back(job_id, token, peer, now_mono - known.missing_since_mono)
        seen = {job_id for _, job_id, _ in orphans}
        # Jobs that left a dead bridge (finished, taken over) are forgotten.
        for job_id in set(self._orphans) - seen:
            del self._orphans[job_id]

    def _give_back(self, job_id: str, token: str, peer: str, missing_s: float) -> None:
        reason = (
            f"work lost: bridge {peer} stopped and no worker ran the job for {missing_s:.0f} s"
            " (bridge and worker died?)"
        )
        log.warning("job %s: %s", job_id, reason, extra={"job_id": job_id, "bridge": self.owner})
        self._orphans.pop(job_id, None)
        try:
            job = self.store.fail(job_id, token, reason, False, self.clock_ms(), draw_jitter_ms())
        except LeaseLost:
            return  # its bridge came back, or another one was first
        self.metrics.work_lost()
        if not job.is_final:
            self.metrics.retried()
        self.on_released()
