"""The offline engine: six deterministic steps over the checkout, no network, no model.

Every step is a pure function of the checkout and the earlier artifacts. Each step
re-derives the parsed index (from the JSON cache in ``ctx.work_dir`` when present, else
from scratch), so a step may run in any process; within one process the parsed facts
and the graph built from them are memoised. Running a step twice returns the same
artifact.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from analysis.course.artifacts import (
    AbstractionsArtifact,
    ChaptersArtifact,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
    TutorialsArtifact,
)
from analysis.engine import Engine, StepContext
from analysis.offline import abstractions, chapters, order, relationships, review
from analysis.offline.graph import CodeGraph, build_graph
from analysis.offline.index import FactsMemo, Index, Limits, build_index
from analysis.offline.mermaid import neighbourhood
from analysis.offline.project import project_name
from analysis.offline.showcase import Showcase, build_showcase
from analysis.offline.touch import Usage, symbol_usage
from analysis.offline.tutorials import Workshop, create_tutorials

_KEPT_ANALYSES = 2  # a graph of a large checkout weighs tens of MB


@dataclass(frozen=True)
class Analysis:
    index: Index
    graph: CodeGraph
    usage: Usage
    project: str
    showcase: Showcase


class OfflineEngine(Engine):
    name = "offline"

    def __init__(
        self,
        max_files: int = 5000,
        max_file_bytes: int = 1_000_000,
        max_total_bytes: int = 200_000_000,
    ) -> None:
        self.limits = Limits(max_files, max_file_bytes, max_total_bytes)
        self._facts = FactsMemo()
        self._analyses: OrderedDict[tuple[str, str], Analysis] = OrderedDict()
        self._lock = threading.Lock()

    def reuse_identity(self) -> str:
        return self.name

    def analyse(self, ctx: StepContext) -> Analysis:
        """The parsed checkout and its graph; rebuilt only when the files changed."""
        index = build_index(
            ctx.checkout, ctx.work_dir, self.limits, ctx.cancel, self._facts, ctx.reuse
        )
        key = (str(ctx.checkout), index.fingerprint)
        with self._lock:
            if key in self._analyses:
                return self._analyses[key]
        graph = build_graph(index, ctx.cancel)
        name = project_name(index.manifests, list(index.files), ctx.checkout.name)
        showcase = build_showcase(ctx.checkout, index.manifests, index.files)
        analysis = Analysis(index, graph, symbol_usage(graph), name, showcase)
        with self._lock:
            self._analyses[key] = analysis
            while len(self._analyses) > _KEPT_ANALYSES:
                self._analyses.popitem(last=False)
        return analysis

    def extract_abstractions(self, ctx: StepContext) -> AbstractionsArtifact:
        found = self.analyse(ctx)
        return abstractions.extract_abstractions(
            found.index, found.graph, found.project, found.showcase, ctx.cancel
        )

    def analyze_relationships(self, ctx: StepContext) -> RelationshipsArtifact:
        found = self.analyse(ctx)
        return relationships.analyze_relationships(found.graph, ctx.need_abstractions())

    def determine_order(self, ctx: StepContext) -> OrderArtifact:
        ctx.cancel.check()
        return order.determine_order(ctx.need_abstractions(), ctx.need_relationships())

    def generate_chapters(self, ctx: StepContext) -> ChaptersArtifact:
        found = self.analyse(ctx)
        listed = ctx.need_abstractions()
        course = chapters.Course(
            root=ctx.checkout,
            graph=found.graph,
            usage=found.usage,
            showcase=found.showcase,
            abstractions=listed,
            relationships=ctx.need_relationships(),
            ordered=chapters.ordered_abstractions(listed, ctx.need_order()),
        )
        return chapters.generate_chapters(course, ctx.cancel)

    def review_chapters(self, ctx: StepContext) -> ReviewArtifact:
        listed, links = ctx.abstractions, ctx.relationships

        def regenerate(abstraction_id: str) -> str | None:
            if listed is None or links is None:
                return None
            if abstraction_id not in {a.id for a in listed.abstractions}:
                return None
            return neighbourhood(abstraction_id, listed, links)

        return review.review_chapters(
            ctx.checkout, ctx.need_chapters(), regenerate, ctx.cancel, ctx.chapter_reviewed
        )

    def create_tutorials(self, ctx: StepContext) -> TutorialsArtifact:
        found = self.analyse(ctx)
        shop = Workshop(
            root=ctx.checkout,
            graph=found.graph,
            usage=found.usage,
            showcase=found.showcase,
            abstractions=ctx.need_abstractions(),
            relationships=ctx.relationships,
        )
        return create_tutorials(shop, ctx.cancel)
