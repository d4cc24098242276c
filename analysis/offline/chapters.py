"""Step 4: one Markdown chapter per abstraction, in the order of step 3.

Every statement in a chapter comes from the code: docstrings, signatures, the
dependency graph, lizard's measurements. Every place it points to is cited as
``path:start-end`` (inline, and as a ``Citation``), clamped to the file's real length.
"""

from __future__ import annotations

from analysis.course.artifacts import (
    Chapter,
    ChaptersArtifact,
    Citation,
    Relationship,
)
from analysis.offline.chapter_code import CodeSections
from analysis.offline.chapter_context import (
    MEET_LINES,
    Course,
    chapter_filename,
    ordered_abstractions,
)
from analysis.offline.files import decode, read_bytes
from analysis.offline.languages import FENCE, is_test_function, is_test_path
from analysis.offline.markdown import code_block
from analysis.offline.mermaid import neighbourhood
from analysis.offline.model import Symbol
from analysis.offline.parsing.common import split_lines
from analysis.offline.relationships import parse_label
from analysis.offline.showcase import Snippet
from analysis.offline.text import (
    and_list,
    code,
    first_sentence,
    inline,
    join_names,
    plural,
)
from fondation.cancel import CancelToken
from fondation.errors import PermanentError

__all__ = [
    "ChapterWriter",
    "Course",
    "chapter_filename",
    "generate_chapters",
    "ordered_abstractions",
]


def generate_chapters(course: Course, cancel: CancelToken) -> ChaptersArtifact:
    chapters: list[Chapter] = []
    for i, abstraction in enumerate(course.ordered):
        cancel.check()
        chapters.append(ChapterWriter(course, abstraction, i, cancel).write())
    return ChaptersArtifact(chapters=chapters)


class ChapterWriter(CodeSections):
    """One chapter: its introduction, where a user meets it, the code sections, where it
    fits among the others, and the way to the next chapter."""

    def write(self) -> Chapter:
        lines = [f"# Chapter {self.i + 1}: {self.a.name}", ""]
        for section in (
            self.intro,
            self.meet,
            self.symbols_section,
            self.closer_look,
            self.where_it_fits,
            self.hot_spots,
            self.files_section,
            self.navigation,
        ):
            lines += section()
        return Chapter(
            index=self.i + 1,
            abstraction_id=self.a.id,
            slug=self.a.id,
            title=self.a.name,
            content="\n".join(lines).rstrip() + "\n",
            citations=self.citations,
        )

    def intro(self) -> list[str]:
        rels = self.course.relationships.relationships
        needs = sorted(
            {r.target for r in rels if r.source == self.a.id and r.target != self.a.id},
            key=self.course.position,
        )
        users = sorted(
            {r.source for r in rels if r.target == self.a.id and r.source != self.a.id},
            key=self.course.position,
        )
        total = len(self.course.ordered)
        earlier = [n for n in needs if self.course.position(n) < self.i]
        later = [n for n in needs if self.course.position(n) > self.i]
        text = f"This is chapter {self.i + 1} of {total}."
        if earlier:
            text += f" It builds on {self._links(earlier)}, covered earlier."
        elif not later:
            text += " It depends on no other abstraction of this course, so it can be read first."
        if later:
            text += (
                f" It uses {self._links(later)}, explained in later chapters: the course "
                "starts from what a user meets first and goes outward to what it relies on."
            )
        after = [u for u in users if self.course.position(u) > self.i]
        if after:
            text += f" Later chapters that rely on it: {self._links(after)}."
        purpose = self._purpose()
        return [*([purpose, ""] if purpose else []), self.a.summary, "", text, ""]

    def _purpose(self) -> str:
        """What the concept is for, in one sentence of the documentation of the type it is
        named after (a module's or package's own docstring opens the summary instead)."""
        found = self.symbol(self.a.name)
        if found is not None and found[1].doc:
            said = first_sentence(found[1].doc, 240)
            return f"**What it is for.** {inline(said)}"
        return ""

    def meet(self) -> list[str]:
        """How a user meets the concept: the first README or example snippet using it."""
        names = set(self.a.symbols)
        # What a module hands out by default is met under its name (``axios``).
        names |= {
            self.graph.facts[f].default_export
            for f in self.files
            if self.graph.facts[f].default_export not in ("", "default")
        }
        snippets = self.course.showcase.using(names)
        ran = [s for c, s in self.course.showcase.sessions if self.a.name == f"{c} command"]
        if ran:
            return self._meet_the_command(ran[0])
        if not snippets:
            return self._meet_in_tests()
        snippet = snippets[0]
        used = [n for n in snippet.names if n in names]
        where = self._cite_snippet(snippet.path, snippet.start, snippet.end)
        language = self.graph.facts[self.files[0]].language if self.files else ""
        lines = ["## How you meet it", ""]
        intro = f"A user meets `{self.a.name}` in {snippet.title} ({where})"
        if snippet.context:
            intro += f", introduced as “{inline(snippet.context, 160)}”"
        lines += [intro + f"; it uses {join_names(used, 5)}.", ""]
        lines += [*code_block(snippet.text, FENCE.get(language, "")), ""]
        more = list(dict.fromkeys(s.title for s in snippets[1:] if s.title != snippet.title))
        if more:
            more = more[:3]
            lines += [f"It appears again in {and_list(more)}.", ""]
        return lines

    def _meet_the_command(self, session: Snippet) -> list[str]:
        """An application's command, met as its README runs it."""
        where = self._cite_snippet(session.path, session.start, session.end)
        intro = f"A user meets the `{session.names[0]}` command in the README ({where})"
        if session.context:
            intro += f", introduced as “{inline(session.context, 160)}”"
        return ["## How you meet it", "", intro + ":", "", *code_block(session.text, "sh"), ""]

    def _meet_in_tests(self) -> list[str]:
        """No README or example uses the concept: the shortest test that calls it shows
        how it is used from outside."""
        mine = set(self.files)
        found: list[tuple[int, str, Symbol, str]] = []
        for caller, callee in self.graph.calls.edges:
            path, _, scope = caller.partition("::")
            target, _, name = callee.partition("::")
            if target not in mine or not is_test_path(path) or path not in self.graph.facts:
                continue
            facts = self.graph.facts[path]
            test = facts.symbol(scope)
            if test is None or not is_test_function(scope, facts.language):
                continue
            size = test.end - test.start + 1
            if size <= MEET_LINES:
                found.append((size, path, test, name))
        if not found:
            return []
        _, path, test, name = min(found, key=lambda f: (f[0], f[1], f[2].start))
        try:
            source = split_lines(decode(read_bytes(self.course.root, path)))
        except (OSError, PermanentError):
            return []
        where = self.cite(path, test.start, test.end)
        return [
            "## How you meet it",
            "",
            f"No README or example uses `{self.a.name}`; its tests use it as a caller would. "
            f"The shortest, `{test.name}` ({where}), calls `{name}`:",
            "",
            *code_block(
                "\n".join(source[test.start - 1 : test.end]),
                FENCE.get(self.graph.facts[path].language, ""),
            ),
            "",
        ]

    def _cite_snippet(self, path: str, start: int, end: int) -> str:
        if path in self.graph.facts:
            return self.cite(path, start, end)
        citation = Citation(path=path, start_line=start, end_line=max(start, end))
        if citation not in self.citations:
            self.citations.append(citation)
        return f"`{citation.render()}`"

    def _links(self, ids: list[str]) -> str:
        return and_list([self.course.link(i) for i in ids])

    def where_it_fits(self) -> list[str]:
        rels = [r for r in self.course.relationships.relationships if r.source != r.target]
        outgoing = [r for r in rels if r.source == self.a.id]
        incoming = [r for r in rels if r.target == self.a.id]
        lines = ["## Its neighbours", ""]
        if not outgoing and not incoming:
            outside = {i for f in self.files for i in self.graph.importers(f)} - set(self.files)
            lines.append(
                f"`{self.a.name}` has no import relationship with the other "
                f"{plural(len(self.course.ordered) - 1, 'abstraction')} of this course"
                + (
                    f"; across the whole project, it is imported by {plural(len(outside), 'file')}."
                    if outside
                    else ", and no file of the project imports it."
                )
            )
            return [*lines, ""]
        if outgoing:
            lines += [f"`{self.a.name}` relies on:", ""]
            lines += [self._relation_bullet(r, r.target) for r in outgoing] + [""]
        if incoming:
            lines += [f"`{self.a.name}` is used by:", ""]
            lines += [self._relation_bullet(r, r.source) for r in incoming] + [""]
        lines += [
            "Solid arrows mark what crosses in code (calls, inheritance, implementations, uses "
            "of a type), dotted ones plain imports; an arrow points from the dependent to what "
            "it depends on.",
            "",
            "```mermaid",
            neighbourhood(self.a.id, self.course.abstractions, self.course.relationships),
            "```",
            "",
        ]
        return lines

    def _relation_bullet(self, rel: Relationship, other: str) -> str:
        kind, names, more = parse_label(rel.label)
        shown = [code(n) for n in names] + ([f"{more} more"] if more else [])
        what = f"{kind} {and_list(shown)}" if shown else kind
        where = ", ".join(self.cite(c.path, c.start_line, c.end_line) for c in rel.citations[:2])
        return f"- {self.course.link(other)}: {inline(what)}" + (f" (see {where})" if where else "")

    def navigation(self) -> list[str]:
        links: list[str] = []
        if self.i > 0:
            prev = self.course.ordered[self.i - 1]
            links.append(f"[Previous: {prev.name}]({chapter_filename(self.i, prev.id)})")
        if self.i + 1 < len(self.course.ordered):
            nxt = self.course.ordered[self.i + 1]
            links.append(f"[Next: {nxt.name}]({chapter_filename(self.i + 2, nxt.id)})")
        return ["---", "", " · ".join(links), ""] if links else []
