"""Chapters stored as their reviews end, while the step that reviews them still runs.

The web app's course page reads a job's docs reactively and lists whatever is there, so
a chapter stored the moment its review is done can be read while the other chapters and
the tutorials are still being written. The engine tells the step of each reviewed chapter
(``StepContext.on_chapter_reviewed``, from its own threads); this module stores it.

One thread per step does the store calls, so an engine never waits on the store: the
chapters that arrive while a call is under way go together in the next one. Every call
is fenced by the step's lease token like any step write: a step whose lease was lost, or
whose job was canceled, writes no chapter, and its cancel token is set so the engine
stops. A chapter that cannot be stored (the store stayed away past the step's grace) is
only late: it is tried again as the step ends, and the save stores the whole course.
The docs are made as the save makes them (``chapter_docs``, with titles kept once
given), so the save has nothing to replace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from analysis.course.artifacts import Chapter
from analysis.course.course import CourseTitles, chapter_docs
from fondation.cancel import CancelToken
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import CancelRequested, FondationError, LeaseLost
from store.base import JobStore
from tasks.step.store_retry import retry_store

log = logging.getLogger(__name__)


class ChapterPublisher:
    """The engine's ``on_chapter_reviewed`` for one run of one step of one job."""

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        token: str,
        repository_id: str,
        total: int,
        cancel: CancelToken,
        *,
        grace_s: float,
        clock: Clock = SYSTEM_CLOCK,
        on_stored: Callable[[list[Chapter]], None] | None = None,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._token = token
        self._repository_id = repository_id
        self._total = total
        self._cancel = cancel
        self._grace_s = grace_s
        self._clock = clock
        self._on_stored = on_stored
        self._waiting: list[Chapter] = []
        self._late: list[Chapter] = []  # not taken by the store: tried again at the end
        self._ready: set[int] = set()  # indexes of the chapters stored by this run
        self._titles: CourseTitles | None = None
        self._closed = False
        self._stopped = False  # the lease was lost or the job canceled: write nothing
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._extra = {"job_id": job_id}

    def __call__(self, chapter: Chapter) -> None:
        # The web app refuses an empty chapter, and the step fails on one anyway.
        if not chapter.content.strip():
            return
        with self._lock:
            if self._closed or self._stopped:
                return
            self._waiting.append(chapter)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"chapters-{self._job_id}", daemon=True
                )
                self._thread.start()
            self._lock.notify()

    def close(self, *, store_waiting: bool) -> None:
        """Stop, after storing the chapters still waiting when ``store_waiting`` (the
        step succeeded), with one more try for those the store did not take, or
        dropping them (it failed: the save or a later run will)."""
        with self._lock:
            self._closed = True
            if not store_waiting:
                self._waiting.clear()
            self._lock.notify()
            thread = self._thread
        if thread is not None:
            # A call under way ends within the store's grace and its own timeout.
            thread.join(self._grace_s + 60.0)
        late, self._late = self._late, []
        if store_waiting and late:
            # A later step may fail before the save: store them now, if the store is back.
            self._store_batch(late)

    @property
    def late(self) -> int:
        """Chapters the store has not taken yet, to be tried again as the step ends."""
        return len(self._late)

    @property
    def ready(self) -> int:
        return len(self._ready)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._lock.wait()
                if not self._waiting:
                    return
                batch, self._waiting = self._waiting, []
            self._store_batch(batch)

    def _store_batch(self, batch: list[Chapter]) -> None:
        if self._stopped:
            return
        try:
            docs = [
                d
                for ch in batch
                for d in chapter_docs(ch, self._course_titles(), self._repository_id)
            ]
            ready = len(self._ready | {ch.index for ch in batch})
            total = max(self._total, ready)
            retry_store(
                lambda: self._store.publish_chapters(
                    self._job_id, self._token, docs, ready, total, self._clock.now_ms()
                ),
                grace_s=self._grace_s, what="publish_chapters", clock=self._clock,
            )  # fmt: skip
        except CancelRequested:
            self._stop()
            self._cancel.cancel("canceled")
            return
        except LeaseLost as exc:
            self._stop()
            self._cancel.cancel(exc.reason, lease_lost=True)
            return
        except FondationError as exc:
            # Only late: tried again as the step ends, and the save stores every chapter.
            indexes = sorted(ch.index for ch in batch)
            log.warning("chapters %s not stored yet: %s", indexes, exc, extra=self._extra)
            self._late += batch
            return
        self._ready |= {ch.index for ch in batch}
        if self._on_stored is not None:
            self._on_stored(batch)

    def _course_titles(self) -> CourseTitles:
        """The titles the job's stored docs hold (a run before this one may have stored
        chapters already), read once, then kept up to date by this run's own docs."""
        if self._titles is None:
            stored = retry_store(
                lambda: self._store.get_docs(self._job_id),
                grace_s=self._grace_s, what="get_docs", clock=self._clock,
            )  # fmt: skip
            self._titles = CourseTitles(stored)
        return self._titles

    def _stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._waiting.clear()
