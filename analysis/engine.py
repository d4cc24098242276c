"""The engine interface: each of the six steps turns (checkout, earlier artifacts) into an
artifact. Engines are pure with respect to the job store: the pipeline stores what they
return, so an engine step may run twice (after a crash) without side effects.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import redis

from analysis.course.artifacts import (
    AbstractionsArtifact,
    Chapter,
    ChaptersArtifact,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
    TutorialsArtifact,
)
from analysis.reuse import ReuseBook
from checkout.procgroup import ProcessGroups
from checkout.provider import GIT_CHECKOUTS, Checkouts
from fondation.cancel import CancelToken

_T = TypeVar("_T")


@dataclass
class StepContext:
    """Everything a step may read. Earlier artifacts are None until their step ran."""

    job_id: str
    checkout: Path
    prompt: str
    work_dir: Path  # scratch space owned by this job, removed with the checkout
    cancel: CancelToken = field(default_factory=CancelToken)
    # Where to record the process groups of subprocesses, so they die with the step.
    process_groups: ProcessGroups | None = None
    abstractions: AbstractionsArtifact | None = None
    relationships: RelationshipsArtifact | None = None
    order: OrderArtifact | None = None
    chapters: ChaptersArtifact | None = None
    review: ReviewArtifact | None = None
    # The job's owner (the web app's userId), so that shared resources are fair between
    # users; empty where there are no users.
    user_id: str = ""
    # The workers' shared Redis, where an engine may share limits with the whole fleet.
    redis: redis.Redis | None = None
    # Writes a line to the job's log (English, for the operators).
    note: Callable[[str], None] | None = None
    # Work of the repository's earlier jobs the step may reuse (None: reuse nothing).
    reuse: ReuseBook | None = None
    # Told of each chapter as its review ends, so the course shows it before the step
    # is done (tasks/step/publish.py). Called from the engine's threads; it must not
    # block them for long nor raise: the step's artifact stays the record.
    on_chapter_reviewed: Callable[[Chapter], None] | None = None

    def chapter_reviewed(self, chapter: Chapter) -> None:
        """An engine's review step calls this once a chapter's review is done."""
        if self.on_chapter_reviewed is not None:
            self.on_chapter_reviewed(chapter)

    def need_abstractions(self) -> AbstractionsArtifact:
        return _need(self.abstractions, "abstractions")

    def need_relationships(self) -> RelationshipsArtifact:
        return _need(self.relationships, "relationships")

    def need_order(self) -> OrderArtifact:
        return _need(self.order, "order")

    def need_chapters(self) -> ChaptersArtifact:
        return _need(self.chapters, "chapters")

    def need_review(self) -> ReviewArtifact:
        return _need(self.review, "review")


def _need(value: _T | None, name: str) -> _T:
    if value is None:
        raise RuntimeError(f"step needs the {name} artifact, which is missing")
    return value


class Engine(abc.ABC):
    """One implementation of the six analysis steps."""

    name: str = "engine"
    # How the repository gets on disk before step 1. Every engine that reads the files
    # keeps git; one whose steps never open a file (the benchmark's) may bring its own.
    checkouts: ClassVar[Checkouts] = GIT_CHECKOUTS

    @abc.abstractmethod
    def extract_abstractions(self, ctx: StepContext) -> AbstractionsArtifact: ...

    @abc.abstractmethod
    def analyze_relationships(self, ctx: StepContext) -> RelationshipsArtifact: ...

    @abc.abstractmethod
    def determine_order(self, ctx: StepContext) -> OrderArtifact: ...

    @abc.abstractmethod
    def generate_chapters(self, ctx: StepContext) -> ChaptersArtifact: ...

    @abc.abstractmethod
    def review_chapters(self, ctx: StepContext) -> ReviewArtifact: ...

    @abc.abstractmethod
    def create_tutorials(self, ctx: StepContext) -> TutorialsArtifact: ...

    def reuse_identity(self) -> str | None:
        """What besides its inputs decides the engine's output (its name, its model): a
        step is reused only from an engine of the same identity. None (the default) for
        an engine whose steps are never reused: one that reads no files, or is measured."""
        return None

    def step_usage(self, ctx: StepContext, step: int) -> dict[str, Any] | None:
        """What ``step`` spent on this worker (cost, turns, duration), or None for an
        engine that spends nothing worth recording."""
        return None
