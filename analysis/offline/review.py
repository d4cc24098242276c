"""Step 5: check every chapter against the checkout and fix what is wrong.

Checks, each recorded as a ``ReviewFinding``:

- citation: the file exists (a regular file inside the checkout, reached without a
  symbolic link) and the lines are in range. Fixed by clamping to the file, or by
  dropping the citation (inline: keeping the path as plain code) when the file is gone.
- mermaid: every diagram passes ``mermaid.validate``. Fixed by regenerating it from the
  relationships, or by removing it when that is not possible.
- link: links to ``NN-slug.md`` name a real chapter. Fixed by pointing at the chapter
  with that slug, or by keeping only the link text.
- empty-section: a heading followed by nothing, or by a heading of the same or a higher
  level. Fixed by removing the heading (repeatedly, as a parent may become empty).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from analysis.course.artifacts import (
    Chapter,
    ChaptersArtifact,
    Citation,
    ReviewArtifact,
    ReviewFinding,
)
from analysis.offline.files import decode, read_bytes
from analysis.offline.markdown import CITATION, LINK, Block, blocks, heading_level, join
from analysis.offline.mermaid import validate
from analysis.offline.parsing.common import split_lines
from analysis.offline.text import and_list, plural
from fondation.cancel import CancelToken
from fondation.errors import PermanentError

Regenerate = Callable[[str], str | None]  # abstraction id -> a new diagram body
_CHAPTER_FILE = re.compile(r"^(\d+)-([a-z0-9][a-z0-9_-]*)\.md$")


class LineCounts:
    """Each cited file's number of lines (None: not a readable file of the checkout)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._counts: dict[str, int | None] = {}

    def get(self, path: str) -> int | None:
        if path not in self._counts:
            try:
                self._counts[path] = len(split_lines(decode(read_bytes(self._root, path))))
            except (OSError, PermanentError, ValueError):
                self._counts[path] = None
        return self._counts[path]


def review_chapters(
    root: Path,
    chapters: ChaptersArtifact,
    regenerate: Regenerate,
    cancel: CancelToken,
    reviewed: Callable[[Chapter], None] = lambda chapter: None,
) -> ReviewArtifact:
    """Each chapter checked and fixed in turn; ``reviewed`` hears of each as it is done."""
    counts = LineCounts(root)
    files = {f"{c.index:02d}-{c.slug}.md" for c in chapters.chapters}
    by_slug = {c.slug: f"{c.index:02d}-{c.slug}.md" for c in chapters.chapters}
    done: list[Chapter] = []
    findings: list[ReviewFinding] = []
    for chapter in chapters.chapters:
        cancel.check()
        fixed, found = ChapterReview(chapter, counts, files, by_slug, regenerate).run()
        done.append(fixed)
        findings += found
        reviewed(fixed)
    return ReviewArtifact(chapters=done, findings=findings)


class ChapterReview:
    def __init__(
        self,
        chapter: Chapter,
        counts: LineCounts,
        files: set[str],
        by_slug: dict[str, str],
        regenerate: Regenerate,
    ) -> None:
        self.chapter = chapter
        self.counts = counts
        self.files = files
        self.by_slug = by_slug
        self.regenerate = regenerate
        self.findings: list[ReviewFinding] = []

    def note(self, kind: str, message: str, fixed: bool = True) -> None:
        self.findings.append(
            ReviewFinding(chapter_slug=self.chapter.slug, kind=kind, message=message, fixed=fixed)
        )

    def run(self) -> tuple[Chapter, list[ReviewFinding]]:
        parts = blocks(self.chapter.content)
        parts = self.diagrams(parts)
        for block in parts:
            if not block.is_code:
                block.lines = [self.links(self.inline_citations(line)) for line in block.lines]
        parts = self.empty_sections(parts)
        content = join(parts).rstrip() + "\n"
        citations = self.citations(self.chapter.citations)
        fixed = self.chapter.model_copy(update={"content": content, "citations": citations})
        return fixed, self.findings

    def citation(self, path: str, start: int, end: int) -> tuple[int, int] | None:
        """The citation clamped to the file, or None when the file is not there."""
        lines = self.counts.get(path)
        if not lines:
            return None
        start = min(max(1, start), lines)
        return start, min(max(start, end), lines)

    def citations(self, citations: list[Citation]) -> list[Citation]:
        kept: list[Citation] = []
        for c in citations:
            clamped = self.citation(c.path, c.start_line, c.end_line)
            if clamped is None:
                self.note("citation", f"{c.render()}: no such file in the checkout; dropped")
                continue
            if clamped != (c.start_line, c.end_line):
                self.note("citation", f"{c.render()}: past the end of the file; clamped")
            fixed = Citation(path=c.path, start_line=clamped[0], end_line=clamped[1])
            if fixed not in kept:
                kept.append(fixed)
        return kept

    def inline_citations(self, line: str) -> str:
        def fix(match: re.Match[str]) -> str:
            path, start = match.group(1), int(match.group(2))
            end = int(match.group(3) or start)
            clamped = self.citation(path, start, end)
            if clamped is None:
                self.note("citation", f"{match.group(0)}: no such file in the checkout; unlinked")
                return f"`{path}`"
            if clamped == (start, end):
                return match.group(0)
            self.note("citation", f"{match.group(0)}: past the end of the file; clamped")
            rendered = Citation(path=path, start_line=clamped[0], end_line=clamped[1]).render()
            return f"`{rendered}`"

        return CITATION.sub(fix, line)

    def links(self, line: str) -> str:
        def fix(match: re.Match[str]) -> str:
            text, target = match.group(1), match.group(2)
            chapter_file = _CHAPTER_FILE.match(target)
            if chapter_file is None or target in self.files:
                return match.group(0)
            slug = chapter_file.group(2)
            if slug in self.by_slug:
                self.note("link", f"{target}: chapter {slug} is {self.by_slug[slug]}; relinked")
                return f"[{text}]({self.by_slug[slug]})"
            self.note("link", f"{target}: no such chapter; link removed, text kept")
            return text

        return LINK.sub(fix, line)

    def diagrams(self, parts: list[Block]) -> list[Block]:
        out: list[Block] = []
        for block in parts:
            if block.info != "mermaid":
                out.append(block)
                continue
            closed = len(block.lines) > 1 and block.lines[-1].strip().startswith(block.fence)
            rest: list[Block] = []
            if closed:
                body = "\n".join(block.lines[1:-1])
                errors = validate(body)
            else:
                # An unclosed fence swallowed the rest of the chapter: the diagram ends at
                # the first blank line, what follows is the chapter again.
                lines = block.lines[1:]
                cut = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
                rest = blocks("\n".join(lines[cut:])) if cut < len(lines) else []
                errors = ["the fence is never closed"]
            if not errors:
                out.append(block)
                continue
            fresh = self.regenerate(self.chapter.abstraction_id)
            if fresh and not validate(fresh):
                out.append(Block(["```mermaid", *fresh.split("\n"), "```"], "```", "mermaid"))
                self.note("mermaid", f"invalid diagram ({errors[0]}); regenerated")
            else:
                self.note("mermaid", f"invalid diagram ({errors[0]}); removed")
            out += rest
        return out

    def empty_sections(self, parts: list[Block]) -> list[Block]:
        while True:
            empty = _first_empty_heading(parts)
            if empty is None:
                return parts
            block_index, line_index, subsections = empty
            lines = parts[block_index].lines
            heading = lines[line_index].strip()
            if subsections:
                filler = (
                    f"This section has {plural(len(subsections), 'part')}: {and_list(subsections)}."
                )
                lines[line_index + 1 : line_index + 1] = ["", filler]
                self.note(
                    "empty-section",
                    f"{heading!r} went straight to a sub-heading; introduced its parts",
                )
            else:
                lines.pop(line_index)
                self.note("empty-section", f"{heading!r} had no content; heading removed")


def _headings(parts: list[Block]) -> list[tuple[int, int, int, str]]:
    """Every heading and every other non-blank item, in order: (block, line, level, text);
    code blocks and text lines have level 0."""
    items: list[tuple[int, int, int, str]] = []
    for b, block in enumerate(parts):
        if block.is_code:
            items.append((b, 0, 0, ""))
            continue
        for i, line in enumerate(block.lines):
            if line.strip():
                level = heading_level(line)
                items.append((b, i, level, line.lstrip("#").strip() if level else ""))
    return items


def _first_empty_heading(parts: list[Block]) -> tuple[int, int, list[str]] | None:
    """The first heading followed directly by another heading or by the end, with the
    titles of its sub-sections when the next heading is deeper (then it is filled, not
    removed)."""
    items = _headings(parts)
    for n, (b, i, level, _) in enumerate(items):
        if not level:
            continue
        following = items[n + 1] if n + 1 < len(items) else None
        if following is None or (following[2] and following[2] <= level):
            return b, i, []
        if following[2] > level:
            subsections = []
            for item in items[n + 1 :]:
                if item[2] and item[2] <= level:
                    break
                if item[2] == following[2]:
                    subsections.append(item[3])
            return b, i, subsections
    return None
