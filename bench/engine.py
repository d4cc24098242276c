"""The benchmark engines: every analysis step takes BENCH_STEP_S seconds (0 by default) and
returns a minimal valid artifact, so what is measured is the orchestration around the
steps. FixedTimeEngine clones with git like the product; FixedTimeCloneEngine's clone
takes BENCH_STEP_S as well and runs no git."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Chapter,
    ChaptersArtifact,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
    Tutorial,
    TutorialsArtifact,
)
from analysis.engine import Engine, StepContext
from checkout.clone import CloneResult
from checkout.provider import Checkouts, CloneOptions
from checkout.repo_url import RepoSource


def _pause() -> None:
    delay = float(os.environ.get("BENCH_STEP_S", "0"))
    if delay > 0:
        time.sleep(delay)


class FixedTimeEngine(Engine):
    name = "bench"

    def extract_abstractions(self, ctx: StepContext) -> AbstractionsArtifact:
        _pause()
        return AbstractionsArtifact(
            project_name="bench",
            summary="benchmark",
            abstractions=[Abstraction(id="core", name="Core", summary="s", files=["README.md"])],
        )

    def analyze_relationships(self, ctx: StepContext) -> RelationshipsArtifact:
        _pause()
        return RelationshipsArtifact(summary="none", relationships=[])

    def determine_order(self, ctx: StepContext) -> OrderArtifact:
        _pause()
        return OrderArtifact(order=["core"])

    def generate_chapters(self, ctx: StepContext) -> ChaptersArtifact:
        _pause()
        return ChaptersArtifact(
            chapters=[
                Chapter(
                    index=1,
                    abstraction_id="core",
                    slug="core",
                    title="Core",
                    content="# Core\n\nText.\n",
                )
            ]
        )

    def review_chapters(self, ctx: StepContext) -> ReviewArtifact:
        _pause()
        return ReviewArtifact(chapters=ctx.need_chapters().chapters)

    def create_tutorials(self, ctx: StepContext) -> TutorialsArtifact:
        _pause()
        return TutorialsArtifact(tutorials=[Tutorial(index=1, slug="t", title="T", content="x")])


class InstantCheckouts:
    """A clone that takes BENCH_STEP_S like every other step and puts nothing on disk: the
    steps of this engine never open a file. Every job is given the same made-up commit."""

    commit = "0" * 40

    def clone(
        self, source: RepoSource, ref: str | None, dest: Path, opts: CloneOptions
    ) -> CloneResult:
        _pause()
        dest.mkdir(parents=True, exist_ok=True)
        return CloneResult(commit=self.commit, files=0, bytes=0)

    def holds(self, dest: Path, commit: str) -> bool:
        return commit == self.commit

    def ensure(
        self, source: RepoSource, ref: str | None, commit: str, dest: Path, opts: CloneOptions
    ) -> None:
        dest.mkdir(parents=True, exist_ok=True)


class FixedTimeCloneEngine(FixedTimeEngine):
    """FixedTimeEngine whose clone step takes BENCH_STEP_S too, without git: at 0 s, a job
    whose every step, the clone included, takes zero time, so that what a benchmark times
    is the orchestration alone (the throughput goal's terms)."""

    name = "bench-clone"
    checkouts: ClassVar[Checkouts] = InstantCheckouts()
