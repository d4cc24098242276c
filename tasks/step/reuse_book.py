"""The step's ``ReuseBook`` on the job store: the records of the job's repository read
and kept under the job's lease, the checkout's git ids read once, and the job log.

Reuse saves work and never decides a job's fate: a store that cannot answer a lookup
is taken as "nothing kept", and a record that cannot be kept is skipped, both logged.
A lost lease or a cancel still stops the step, as at any other store call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from analysis.reuse import KeptWork, ReuseBook
from checkout.tree_ids import TreeIds, read_tree_ids
from fondation.clock import Clock
from fondation.errors import CancelRequested, FondationError, LeaseLost
from store.base import JobStore
from store.records import REUSE_VALUE_MAX_CHARS, ReuseKind

log = logging.getLogger(__name__)

_UNREAD = object()


class StoreReuseBook(ReuseBook):
    def __init__(
        self,
        store: JobStore,
        job_id: str,
        token: str,
        checkout: Path,
        *,
        fresh: bool,
        clock: Clock,
        note: Callable[[str], None],
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.token = token
        self.checkout = checkout
        self.fresh = fresh
        self.clock = clock
        self._note = note
        self._tree: TreeIds | object | None = _UNREAD
        self._lock = threading.Lock()  # chapter calls run on threads
        self.extra = {"job_id": job_id}

    def find(self, kind: ReuseKind, key: str) -> list[KeptWork]:
        if self.fresh:
            return []
        try:
            records = self.store.find_reuse(self.job_id, self.token, kind, key)
        except (LeaseLost, CancelRequested):
            raise
        except FondationError as exc:
            log.warning("reuse lookup of %s failed, doing it again: %s", key, exc, extra=self.extra)
            return []
        return [KeptWork(r.variant, r.value, r.job_id) for r in records]

    def keep(self, kind: ReuseKind, key: str, variant: str, value: str) -> None:
        if len(value) > REUSE_VALUE_MAX_CHARS:
            log.info("%s not kept for reuse: %d characters", key, len(value), extra=self.extra)
            return
        try:
            self.store.save_reuse(
                self.job_id, self.token, kind, key, variant, value, self.clock.now_ms()
            )
        except (LeaseLost, CancelRequested):
            raise
        except FondationError as exc:
            log.warning("%s not kept for reuse: %s", key, exc, extra=self.extra)

    def tree(self) -> TreeIds | None:
        with self._lock:
            if self._tree is _UNREAD:
                self._tree = read_tree_ids(self.checkout)
            tree = self._tree
        return tree if isinstance(tree, TreeIds) else None

    def note(self, line: str) -> None:
        self._note(line)
