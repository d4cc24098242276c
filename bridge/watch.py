"""What the bridge does with its Convex subscription's news (store/convex_watch.py holds
the subscription): wake the lease loop when jobs are due or a held job was ended or asked
to stop under it, set its timer for the next job falling due, and notice when the
safety-net poll claims a job the subscription never announced (a subscription gone
quiet on an open socket), which replaces the subscriber.

Everything here runs on the subscription's thread, except ``claimed``, which the lease
loop calls; the state they share is a set of ids and a few numbers, under a lock.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from bridge.snapshot import SubscriptionView
from store.convex.watch import WatchUpdate
from store.convex_watch import ConvexWatch, WatchStatus
from store.records import Claim

log = logging.getLogger(__name__)

# Ids of ready jobs announced lately, to judge a claim the subscription missed.
_ANNOUNCED_KEPT = 1000


class WatchLink:
    """Between one ``ConvexWatch`` and one ``Bridge`` (typed loosely: bridge/loop.py
    imports this module)."""

    def __init__(self, bridge: Any, *, missed_after_s: float = 1.0) -> None:
        self.bridge = bridge
        self.missed_after_s = missed_after_s
        self.watch: ConvexWatch | None = None
        self._announced: set[str] = set()
        self._order: deque[str] = deque()
        self._list_full = False
        self._ready: tuple[str, ...] | None = None
        self._lock = threading.Lock()
        self.missed = 0

    def attach(self, watch: ConvexWatch) -> None:
        self.watch = watch

    def status(self) -> WatchStatus | None:
        return None if self.watch is None else self.watch.status()

    def view(self, safety_poll_s: float) -> SubscriptionView | None:
        status = self.status()
        return None if status is None else SubscriptionView(status, self.missed, safety_poll_s)

    def on_update(self, update: WatchUpdate) -> None:
        """A new answer of the watch query: wake the loop if there is work for it."""
        with self._lock:
            for job_id in update.ready:
                if job_id not in self._announced:
                    self._announced.add(job_id)
                    self._order.append(job_id)
            while len(self._order) > _ANNOUNCED_KEPT:
                self._announced.discard(self._order.popleft())
            self._list_full = update.ready_list_full
            self._ready = update.ready
        self.bridge.wake_at(update.next_run_at_ms)
        held = set(list(self.bridge.held))
        if update.ready or update.concerns(held):
            self.bridge.wake.set()

    def nothing_ready(self) -> bool:
        """The live subscription's last answer named no ready job."""
        status = self.status()
        with self._lock:
            ready = self._ready
        return status is not None and status.state == "live" and ready == ()

    def claimed(self, claims: Sequence[Claim], now_ms: int) -> list[str]:
        """After the safety-net poll claimed on its own turn: a job ready for a while
        (``missed_after_s``, well above a subscription's delay) that the subscription
        never named, while it was live and its list had room to name it, means it
        missed a change (a server that keeps the socket open and stops answering): the
        subscriber is replaced. The ids of such jobs."""
        status = self.status()
        if self.watch is None or status is None or status.state != "live":
            return []
        with self._lock:
            if self._list_full:
                return []
            missed = [
                c.job.id
                for c in claims
                if c.job.id not in self._announced
                and now_ms - (c.job.run_at or c.job.created_at) >= self.missed_after_s * 1000
            ]
        if missed:
            self.missed += len(missed)
            log.warning("the convex subscription missed ready jobs %s; restarting it", missed)
            self.watch.restart(f"missed ready jobs {', '.join(missed)}")
        return missed
