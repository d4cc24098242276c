"""The watchdog that runs beside the steps of a worker process.

While a step runs it (1) refreshes the job's beat key in Redis, which tells bridges the
work is alive; (2) polls the cancel flag a bridge sets, four times a second; (3) renews
the job's lease in the store every HEARTBEAT_INTERVAL, so a running job outlives the
bridge that claimed it, and learns from the renewal when the job was canceled or taken
over. Any of those trips the
step's CancelToken.

One watchdog serves every step of its process: its two threads start with the first step
and live as long as the process, so a step costs a registration, not two thread starts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from fondation import keys
from fondation.cancel import CancelToken
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import FondationError, LeaseLost
from store.base import JobStore

log = logging.getLogger(__name__)

# The beat thread's turn, at most: each turn reads the cancel flag, so a cancel stops the
# running step within this (the beat itself needs only WORKER_LIVENESS_INTERVAL; two
# Redis commands a turn per running step cost next to nothing).
_CANCEL_POLL_S = 0.25


@dataclass(frozen=True)
class _Watched:
    job_id: str
    token: str
    cancel: CancelToken


class Watchdog:
    def __init__(
        self,
        *,
        store: JobStore,
        redis_client: redis.Redis,
        lease_ms: int,
        liveness_interval_s: float,
        heartbeat_interval_s: float,
        clock: Clock = SYSTEM_CLOCK,
        threads: bool = True,
    ) -> None:
        """``threads=False`` starts no thread: the caller runs the turns (``beat_turn``,
        ``renew_turn``) itself, as a test does with a ``FakeClock``."""
        self._store = store
        self._clock = clock
        self._threads = threads
        self._redis = redis_client
        self._lease_ms = lease_ms
        self._beat_s = liveness_interval_s
        self._renew_s = heartbeat_interval_s
        self._watched: dict[int, _Watched] = {}
        self._lock = threading.Lock()
        self._started = False

    @contextlib.contextmanager
    def watch(self, job_id: str, token: str, cancel: CancelToken) -> Iterator[CancelToken]:
        """Watch one step while the block runs. Its first beat comes at the beat
        thread's next turn, within one liveness interval: a bridge calls work lost only
        after three intervals without a beat. (A redelivered step beats at once, in the
        round trip that counts its deliveries.)"""
        entry = _Watched(job_id, token, cancel)
        with self._lock:
            self._watched[id(entry)] = entry
            if not self._started and self._threads:
                self._start_threads()
        try:
            yield cancel
        finally:
            with self._lock:
                self._watched.pop(id(entry), None)

    def _start_threads(self) -> None:
        # Two threads: a renewal blocked by a slow or locked store must never delay the
        # beat, or bridges would take a step that waits on the store for lost work.
        for target, name in ((self._beat_loop, "watchdog-beat"), (self._renew_loop, "renew")):
            threading.Thread(target=target, name=name, daemon=True).start()
        self._started = True

    def _current(self) -> list[_Watched]:
        with self._lock:
            return list(self._watched.values())

    def add_beat(self, pipe: redis.client.Pipeline, job_id: str) -> None:
        """Queue a job's beat and the read of its cancel flag on ``pipe``: two replies,
        the second true when the job was canceled."""
        # The TTL is what makes the beat a dead-man's switch: it lapses with the worker.
        pipe.set(keys.step_beat(job_id), "1", px=max(int(self._beat_s * 3000), 1000))
        pipe.exists(keys.cancel_flag(job_id))

    def _beat(self, entries: list[_Watched]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for e in entries:
                self.add_beat(pipe, e.job_id)
            replies = pipe.execute()
        except redis.RedisError as exc:
            log.warning("watchdog cannot reach Redis: %s", exc)
            return
        for e, canceled in zip(entries, replies[1::2], strict=True):
            if canceled:
                e.cancel.cancel("canceled")

    def _renew(self, e: _Watched) -> None:
        try:
            state = self._store.renew(e.job_id, e.token, self._lease_ms, self._clock.now_ms())
        except LeaseLost as exc:
            e.cancel.cancel(exc.reason, lease_lost=True)
            return
        except FondationError as exc:
            # A store outage must not stop the step: the lease is long and the next
            # renewal may succeed. The work is fenced if it does not.
            log.warning("lease renewal failed for job %s: %s", e.job_id, exc)
            return
        if state.cancel_requested:
            e.cancel.cancel("canceled")

    def beat_turn(self) -> None:
        """One turn of the beat thread: beat every watched step, read its cancel flag."""
        entries = self._current()
        if entries:
            self._beat(entries)

    def renew_turn(self) -> None:
        """One turn of the renewal thread: renew every watched step's lease."""
        for e in self._current():
            self._renew(e)

    # Both loops end with the process (daemon threads).
    def _beat_loop(self) -> None:
        while True:
            self._clock.sleep(min(self._beat_s, _CANCEL_POLL_S))
            self.beat_turn()

    def _renew_loop(self) -> None:
        while True:
            self._clock.sleep(self._renew_s)
            self.renew_turn()
