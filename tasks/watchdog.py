"""The watchdog that runs beside a step.

While a step runs it (1) refreshes the job's beat key in Redis, which tells bridges the
work is alive; (2) polls the cancel flag a bridge sets; (3) renews the job's lease in the
store every HEARTBEAT_INTERVAL, so a running job outlives the bridge that claimed it, and
learns from the renewal when the job was canceled or taken over. Any of those trips the
step's CancelToken.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

import redis

from bridge.store.base import JobStore
from fondation import keys
from fondation.clock import now_ms
from fondation.errors import FondationError, LeaseLost
from tasks.engines.base import CancelToken

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(
        self,
        *,
        store: JobStore,
        redis_client: redis.Redis,
        job_id: str,
        token: str,
        lease_ms: int,
        liveness_interval_s: float,
        heartbeat_interval_s: float,
        cancel: CancelToken,
    ) -> None:
        self._store = store
        self._redis = redis_client
        self._job_id = job_id
        self._token = token
        self._lease_ms = lease_ms
        self._beat_s = liveness_interval_s
        self._renew_s = heartbeat_interval_s
        self.cancel = cancel
        self._stop = threading.Event()
        # Two threads: a renewal blocked by a slow or locked store must never delay the
        # beat, or bridges would take a step that waits on the store for lost work.
        self._threads = [
            threading.Thread(target=self._beat_loop, name=f"beat-{job_id}", daemon=True),
            threading.Thread(target=self._renew_loop, name=f"renew-{job_id}", daemon=True),
        ]

    def __enter__(self) -> CancelToken:
        self._beat()
        for thread in self._threads:
            thread.start()
        return self.cancel

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _beat(self) -> None:
        # The TTL is what makes the beat a dead-man's switch: it lapses with the worker.
        ttl_ms = max(int(self._beat_s * 3000), 1000)
        try:
            pipe = self._redis.pipeline()
            pipe.set(keys.step_beat(self._job_id), "1", px=ttl_ms)
            pipe.exists(keys.cancel_flag(self._job_id))
            _, canceled = pipe.execute()
        except redis.RedisError as exc:
            log.warning("watchdog cannot reach Redis: %s", exc)
            return
        if canceled:
            self.cancel.cancel("canceled")

    def _renew(self) -> None:
        try:
            state = self._store.renew(self._job_id, self._token, self._lease_ms, now_ms())
        except LeaseLost as exc:
            self.cancel.cancel(exc.reason, lease_lost=True)
            return
        except FondationError as exc:
            # A store outage must not stop the step: the lease is long and the next
            # renewal may succeed. The work is fenced if it does not.
            log.warning("lease renewal failed for job %s: %s", self._job_id, exc)
            return
        if state.cancel_requested:
            self.cancel.cancel("canceled")

    def _beat_loop(self) -> None:
        while not self._stop.wait(self._beat_s):
            self._beat()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._renew_s):
            self._renew()
