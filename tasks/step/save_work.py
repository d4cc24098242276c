"""The save step's work: the course's docs stored around the chapters already stored,
compared with the repository's previous course, and the job completed."""

from __future__ import annotations

import json
import logging

from analysis.course.artifacts import Artifact
from analysis.course.course import CourseTitles, build_docs
from analysis.course.regeneration import (
    COURSE_KEY,
    course_digest,
    parse_digest,
    regeneration_stats,
)
from checkout.repo_url import redact
from store.records import (
    REUSE_VALUE_MAX_CHARS,
    DocRecord,
    DocSpec,
    ReuseEntry,
    ReuseRecord,
    StepStart,
)
from tasks.step.step_base import StepBase

log = logging.getLogger(__name__)


class SaveWork(StepBase):
    """The last step: the whole course stored and the job completed."""

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
