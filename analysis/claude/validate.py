"""Checks of the model's answers against the checkout and the earlier artifacts.

The model may cite files that do not exist, lines past the end of a file, or ids it
invented; each check returns readable problems (empty when all is well), which are fed
back to the model on the next call and end up in the ``StepValidationError`` report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from analysis.course import markdown
from analysis.course.artifacts import (
    AbstractionsArtifact,
    Chapter,
    Citation,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
    TutorialsArtifact,
)

# What the model reads back when a chapter or tutorial has nothing under its title.
_EMPTY = (
    "empty content: nothing is left once the leading '# ' title is dropped (the course"
    " page shows the title itself); write the text under it"
)


class Checkout:
    """Answers "is this a file of the checkout, and how many lines has it?" safely."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._lines: dict[str, int] = {}

    def path_problem(self, rel: str) -> str | None:
        pure = PurePosixPath(rel)
        if not rel or rel != rel.strip() or "\\" in rel or "\x00" in rel:
            return f"{rel!r}: not a clean relative path"
        if pure.is_absolute() or rel.startswith("~"):
            return f"{rel!r}: absolute paths are refused; cite paths relative to the root"
        if ".." in pure.parts:
            return f"{rel!r}: '..' is refused; cite paths inside the repository"
        if pure.as_posix() != rel:
            return f"{rel!r}: write it as {pure.as_posix()!r}"
        if pure.parts and pure.parts[0] == ".git":
            return f"{rel!r}: .git is not part of the repository's content"
        target = self.root / rel
        try:
            # resolve() follows symlinks, so a link pointing outside is caught here.
            resolved = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return f"{rel!r}: no such file in the repository"
        if not resolved.is_relative_to(self.root):
            return f"{rel!r}: leads outside the repository"
        if not resolved.is_file():
            return f"{rel!r}: not a file (cite files, not folders)"
        return None

    def line_count(self, rel: str) -> int:
        if rel not in self._lines:
            data = (self.root / rel).read_bytes()
            count = data.count(b"\n")
            self._lines[rel] = count + (1 if data and not data.endswith(b"\n") else 0)
        return self._lines[rel]

    def citation_problem(self, cite: Citation) -> str | None:
        problem = self.path_problem(cite.path)
        if problem:
            return problem
        if cite.end_line < cite.start_line:
            return f"{cite.render()}: end_line is before start_line"
        lines = self.line_count(cite.path)
        if cite.end_line > lines:
            return f"{cite.render()}: the file has only {lines} lines"
        return None


def _citations(checkout: Checkout, cites: Iterable[Citation], where: str) -> list[str]:
    return [f"{where}: {p}" for c in cites if (p := checkout.citation_problem(c))]


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def check_abstractions(art: AbstractionsArtifact, checkout: Checkout) -> list[str]:
    problems = [
        f"duplicate abstraction id {d!r}" for d in _duplicates(a.id for a in art.abstractions)
    ]
    for a in art.abstractions:
        problems += [f"abstraction {a.id}: {p}" for f in a.files if (p := checkout.path_problem(f))]
        problems += _citations(checkout, a.citations, f"abstraction {a.id}")
    return problems


def check_relationships(
    art: RelationshipsArtifact, abstractions: AbstractionsArtifact, checkout: Checkout
) -> list[str]:
    known = {a.id for a in abstractions.abstractions}
    problems: list[str] = []
    for r in art.relationships:
        edge = f"relationship {r.source} -> {r.target}"
        problems += [
            f"{edge}: unknown abstraction id {end!r} (known: {', '.join(sorted(known))})"
            for end in (r.source, r.target)
            if end not in known
        ]
        problems += _citations(checkout, r.citations, edge)
    return problems


def check_order(art: OrderArtifact, abstractions: AbstractionsArtifact) -> list[str]:
    known = [a.id for a in abstractions.abstractions]
    problems = [f"{d!r} appears more than once in the order" for d in _duplicates(art.order)]
    problems += [
        f"{i!r} in the order is not an abstraction id" for i in art.order if i not in known
    ]
    problems += [
        f"abstraction {i!r} is missing from the order" for i in known if i not in art.order
    ]
    return problems


def check_chapters(
    chapters: list[Chapter], abstractions: AbstractionsArtifact, checkout: Checkout
) -> list[str]:
    known = {a.id for a in abstractions.abstractions}
    problems = [f"duplicate chapter slug {d!r}" for d in _duplicates(c.slug for c in chapters)]
    problems += [
        f"duplicate chapter index {d}" for d in _duplicates(str(c.index) for c in chapters)
    ]
    for c in chapters:
        if c.abstraction_id not in known:
            problems.append(f"chapter {c.slug}: unknown abstraction id {c.abstraction_id!r}")
        if markdown.is_empty_body(c.content):
            problems.append(f"chapter {c.slug}: {_EMPTY}")
        problems += _citations(checkout, c.citations, f"chapter {c.slug}")
    return problems


def check_review(
    art: ReviewArtifact, abstractions: AbstractionsArtifact, checkout: Checkout
) -> list[str]:
    problems = check_chapters(art.chapters, abstractions, checkout)
    slugs = {c.slug for c in art.chapters}
    problems += [
        f"finding for unknown chapter {f.chapter_slug!r}"
        for f in art.findings
        if f.chapter_slug not in slugs
    ]
    return problems


def check_tutorials(art: TutorialsArtifact, checkout: Checkout) -> list[str]:
    problems = [
        f"duplicate tutorial slug {d!r}" for d in _duplicates(t.slug for t in art.tutorials)
    ]
    problems += [
        f"duplicate tutorial index {d}" for d in _duplicates(str(t.index) for t in art.tutorials)
    ]
    for t in art.tutorials:
        problems += [f"tutorial {t.slug}: {p}" for f in t.files if (p := checkout.path_problem(f))]
        if markdown.is_empty_body(t.content):
            problems.append(f"tutorial {t.slug}: {_EMPTY}")
    return problems


def check_citations(cites: Iterable[Citation], checkout: Checkout, where: str) -> list[str]:
    return _citations(checkout, cites, where)
