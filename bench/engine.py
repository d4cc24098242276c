"""The benchmark engine: every step takes BENCH_STEP_S seconds (0 by default) and returns
a minimal valid artifact, so what is measured is the orchestration around the steps."""

from __future__ import annotations

import os
import time

from tasks.artifacts import (
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
from tasks.engines.base import Engine, StepContext


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
