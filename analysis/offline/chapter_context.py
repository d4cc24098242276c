"""What one chapter of step 4 is written from: the course every chapter may refer to
(``Course``), the chapter's abstraction and its files, and the citations it records as it
cites (``ChapterContext``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Citation,
    OrderArtifact,
    RelationshipsArtifact,
)
from analysis.offline.graph import CodeGraph
from analysis.offline.model import Symbol
from analysis.offline.showcase import Showcase
from analysis.offline.text import (
    code,
)
from analysis.offline.touch import Usage
from fondation.cancel import CancelToken

MAX_SYMBOLS = 6
MAX_METHODS = 6
MAX_FILES_IN_TABLE = 12
EXCERPT_LINES = 30
MEET_LINES = 25  # a longer test shows more set-up than use
MIN_HOT_COMPLEXITY = 3  # below this, nothing branches enough to call it a hot spot


def chapter_filename(index: int, slug: str) -> str:
    return f"{index:02d}-{slug}.md"


def ordered_abstractions(
    abstractions: AbstractionsArtifact, order: OrderArtifact
) -> list[Abstraction]:
    by_id = {a.id: a for a in abstractions.abstractions}
    ordered = [by_id[i] for i in order.order if i in by_id]
    ordered += [a for a in abstractions.abstractions if a.id not in order.order]
    return ordered


@dataclass
class Course:
    """What every chapter may refer to."""

    root: Path
    graph: CodeGraph
    usage: Usage
    showcase: Showcase
    abstractions: AbstractionsArtifact
    relationships: RelationshipsArtifact
    ordered: list[Abstraction]

    def position(self, abstraction_id: str) -> int:
        return next(i for i, a in enumerate(self.ordered) if a.id == abstraction_id)

    def link(self, abstraction_id: str) -> str:
        i = self.position(abstraction_id)
        target = self.ordered[i]
        return f"[`{target.name}`]({chapter_filename(i + 1, target.id)})"


class ChapterContext:
    """One chapter's abstraction, its files and its citations; the sections build on it."""

    def __init__(self, course: Course, abstraction: Abstraction, i: int, cancel: CancelToken):
        self.course = course
        self.graph = course.graph
        self.a = abstraction
        self.i = i
        self.cancel = cancel
        self.files = [f for f in abstraction.files if f in course.graph.facts]
        self.citations: list[Citation] = []

    def cite(self, path: str, start: int, end: int | None = None) -> str:
        """An inline citation, recorded; clamped to the file, plain path if it has none."""
        facts = self.graph.facts.get(path)
        if facts is None or facts.lines < 1 or " " in path or "`" in path:
            return code(path)
        start = min(max(1, start), facts.lines)
        end = min(max(start, end if end is not None else start), facts.lines)
        citation = Citation(path=path, start_line=start, end_line=end)
        if citation not in self.citations:
            self.citations.append(citation)
        return f"`{citation.render()}`"

    def symbol(self, name: str) -> tuple[str, Symbol] | None:
        for path in self.files:
            found = self.graph.facts[path].symbol(name)
            if found is not None:
                return path, found
        return None
