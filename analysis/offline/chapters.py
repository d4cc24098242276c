"""Step 4: one Markdown chapter per abstraction, in the order of step 3.

Every statement in a chapter comes from the code: docstrings, signatures, the
dependency graph, lizard's measurements. Every place it points to is cited as
``path:start-end`` (inline, and as a ``Citation``), clamped to the file's real length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Chapter,
    ChaptersArtifact,
    Citation,
    OrderArtifact,
    Relationship,
    RelationshipsArtifact,
)
from analysis.offline.complexity import HotSpot, hot_spots
from analysis.offline.files import decode, read_bytes
from analysis.offline.graph import CodeGraph
from analysis.offline.languages import FENCE, is_test_function, is_test_path
from analysis.offline.markdown import code_block
from analysis.offline.mermaid import neighbourhood
from analysis.offline.model import Symbol
from analysis.offline.parsing.common import split_lines
from analysis.offline.relationships import parse_label
from analysis.offline.showcase import Showcase, Snippet
from analysis.offline.text import (
    and_list,
    code,
    first_paragraph,
    first_sentence,
    inline,
    join_names,
    plural,
)
from analysis.offline.touch import Usage
from fondation.cancel import CancelToken
from fondation.errors import PermanentError

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


def generate_chapters(course: Course, cancel: CancelToken) -> ChaptersArtifact:
    chapters: list[Chapter] = []
    for i, abstraction in enumerate(course.ordered):
        cancel.check()
        chapters.append(ChapterWriter(course, abstraction, i, cancel).write())
    return ChaptersArtifact(chapters=chapters)


class ChapterWriter:
    def __init__(self, course: Course, abstraction: Abstraction, i: int, cancel: CancelToken):
        self.course = course
        self.graph = course.graph
        self.a = abstraction
        self.i = i
        self.cancel = cancel
        self.files = [f for f in abstraction.files if f in course.graph.facts]
        self.citations: list[Citation] = []

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

    # -- citations ----------------------------------------------------------------------

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

    # -- sections -----------------------------------------------------------------------

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

    def files_section(self) -> list[str]:
        facts = self.graph.facts
        if not self.files:
            return []  # an abstraction from elsewhere whose files this checkout lacks
        lines = ["## Files", "", self._files_intro()]
        lines += [
            "",
            "| File | Lines | Defines | Its own description |",
            "| --- | --- | --- | --- |",
        ]
        shown = sorted(self.files, key=lambda f: (-self.graph.rank.get(f, 0.0), f))
        for path in shown[:MAX_FILES_IN_TABLE]:
            names = [s.name for s in facts[path].top_level() if s.public][:3]
            doc = first_sentence(facts[path].doc, 120).replace("|", "/") or "(no docstring)"
            lines.append(
                f"| `{path}` | {facts[path].lines} | "
                f"{', '.join(f'`{n}`' for n in names) or '-'} | {doc} |"
            )
        rest = shown[MAX_FILES_IN_TABLE:]
        if rest:
            lines += [
                "",
                f"The table shows the {MAX_FILES_IN_TABLE} most depended-upon files; "
                f"the other {len(rest)} are {join_names(sorted(rest), 8)}.",
            ]
        return [*lines, ""]

    def _files_intro(self) -> str:
        facts = self.graph.facts
        total = sum(facts[f].lines for f in self.files)
        if len(self.files) == 1:
            only = self.files[0]
            count = len(facts[only].top_level())
            return (
                f"All of `{self.a.name}` is in `{only}`: {plural(total, 'line')} "
                f"defining {plural(count, 'top-level symbol')}."
            )
        largest = max(self.files, key=lambda f: (facts[f].lines, f))
        imported = max(self.files, key=lambda f: (len(self.graph.importers(f)), f))
        return (
            f"The code lives in {plural(len(self.files), 'file')} ({plural(total, 'line')}). "
            f"The largest is `{largest}` ({plural(facts[largest].lines, 'line')}); the most "
            f"imported is `{imported}`, imported by "
            f"{plural(len(self.graph.importers(imported)), 'file')}."
        )

    def symbols_section(self) -> list[str]:
        found = [s for s in (self.symbol(n) for n in self.a.symbols[:MAX_SYMBOLS]) if s]
        if not found:
            return []
        lines = [
            "## Public surface",
            "",
            (
                f"These {len(found)} public names of `{self.a.name}` are the ones other files "
                "use most, counted by the number of files that reference each."
                if len(found) > 1
                else f"`{found[0][1].name}` is the public name of `{self.a.name}` that other "
                "files use most."
            ),
            "",
        ]
        for path, symbol in found:
            self.cancel.check()
            lines += self._symbol(path, symbol)
        return lines

    def _symbol(self, path: str, symbol: Symbol) -> list[str]:
        facts = self.graph.facts[path]
        lines = [f"### `{symbol.name}`", ""]
        lines += [*code_block(symbol.signature, FENCE.get(facts.language, "")), ""]
        if symbol.doc:
            lines += [first_paragraph(symbol.doc, 700), ""]
        users = sorted(self.course.usage.users.get((path, symbol.name), frozenset()))
        size = symbol.end - symbol.start + 1
        where = (
            f"This {symbol.kind} is defined in {self.cite(path, symbol.start, symbol.end)} "
            f"({plural(size, 'line')})"
        )
        if len(users) == 1:
            where += f" and used by one other file, `{users[0]}`."
        elif users:
            where += f" and used by {len(users)} other files, such as {join_names(users, 3)}."
        else:
            where += "; no other file references it by name."
        if symbol.bases:
            where += f" It derives from {join_names(symbol.bases, 4)}."
        lines += [where, ""]
        lines += self._methods(path, symbol)
        lines += self._extension_point(path, symbol)
        return lines

    def _methods(self, path: str, symbol: Symbol) -> list[str]:
        facts = self.graph.facts[path]
        methods = [
            s
            for s in facts.symbols
            if s.name.startswith(symbol.name + ".")
            and s.public
            and s.kind == "method"
            and not s.name.rsplit(".", 1)[-1].startswith("__")
        ]
        if not methods:
            return []
        # Documented methods first: their docstrings say what the class is for.
        shown = sorted(methods, key=lambda m: (not m.doc, m.start))[:MAX_METHODS]
        lines = [
            f"`{symbol.name}` has {plural(len(methods), 'public method')}"
            + (
                f"; {MAX_METHODS} of them, documented ones first:"
                if len(methods) > MAX_METHODS
                else ":"
            ),
            "",
        ]
        for method in sorted(shown, key=lambda m: m.start):
            said = first_sentence(method.doc, 160)
            short = method.name.rsplit(".", 1)[-1]
            lines.append(
                f"- `{short}` ({self.cite(path, method.start, method.end)})"
                + (f": {said}" if said else "")
            )
        return [*lines, ""]

    def _extension_point(self, path: str, symbol: Symbol) -> list[str]:
        if not symbol.abstract:
            return []
        facts = self.graph.facts[path]
        required = [
            s.name.rsplit(".", 1)[-1]
            for s in facts.symbols
            if s.name.startswith(symbol.name + ".") and s.abstract
        ]
        impls = sorted(self.graph.subclasses.get((path, symbol.name), set()))
        text = f"`{symbol.name}` is an extension point"
        text += (
            f": an implementation must provide {join_names(required, 6)}."
            if required
            else " (an abstract base or interface)."
        )
        if impls:
            shown = [f"`{name}` in {self.cite(p, self._start(p, name))}" for p, name in impls[:4]]
            text += f" Implementations in this project ({len(impls)}): {and_list(shown)}."
        return [text, ""]

    def _start(self, path: str, name: str) -> int:
        found = self.graph.facts[path].symbol(name)
        return found.start if found else 1

    def closer_look(self) -> list[str]:
        # The type the chapter is named after, else its most used public name.
        lead = self.symbol(self.a.name) or next(
            (s for s in (self.symbol(n) for n in self.a.symbols) if s), None
        )
        if lead is None:
            return []
        path, symbol = self._excerpt_target(*lead)
        try:
            source = split_lines(decode(read_bytes(self.course.root, path)))
        except (OSError, PermanentError):
            return []
        end = min(symbol.end, symbol.start + EXCERPT_LINES - 1, len(source))
        if end < symbol.start:
            return []
        size = symbol.end - symbol.start + 1
        shown = (
            f"the first {end - symbol.start + 1} of its {size} lines"
            if end < symbol.end
            else "all of it"
        )
        lines = [f"## How it works inside: `{symbol.name}`", ""]
        if symbol.name != lead[1].name:
            lines += [
                f"The work of `{lead[1].name}` is done in its methods; this one calls the most "
                "of the project's own code.",
                "",
            ]
        lines += [f"The excerpt is {shown}, from {self.cite(path, symbol.start, end)}.", ""]
        lines += [
            *code_block(
                "\n".join(source[symbol.start - 1 : end]),
                FENCE.get(self.graph.facts[path].language, ""),
            ),
            "",
        ]
        calls = self._calls_of(path, symbol.name)
        if calls:
            lines += [f"Within the project, `{symbol.name}` calls {and_list(calls)}.", ""]
        return lines

    def _excerpt_target(self, path: str, symbol: Symbol) -> tuple[str, Symbol]:
        """The lead symbol, or for a type with public methods, the method that calls the
        most of the project's code (how the type works, rather than its fields)."""
        if symbol.kind not in ("class", "struct"):
            return path, symbol
        methods = [
            s
            for s in self.graph.facts[path].symbols
            if s.name.startswith(symbol.name + ".")
            and s.public
            and s.kind == "method"
            and s.end - s.start + 1 >= 3
            and not s.name.rsplit(".", 1)[-1].startswith("__")
        ]
        calls = self.graph.calls

        def out(method: Symbol) -> int:
            node = f"{path}::{method.name}"
            return calls.out_degree(node) if node in calls else 0

        methods.sort(key=lambda m: (-out(m), not m.doc, m.start - m.end, m.start))
        return (path, methods[0]) if methods and out(methods[0]) else (path, symbol)

    def _calls_of(self, path: str, name: str) -> list[str]:
        out: list[str] = []
        for node in sorted(self._nodes(path, name)):
            for target in sorted(self.graph.calls.successors(node)):
                target_path, target_name = target.split("::", 1)
                if target_path in self.graph.facts and len(out) < 6:
                    start = self._start(target_path, target_name)
                    entry = f"`{target_name}` ({self.cite(target_path, start)})"
                    if entry not in out:
                        out.append(entry)
        return out

    def _nodes(self, path: str, name: str) -> Iterable[str]:
        prefix = f"{path}::{name}"
        return [n for n in self.graph.calls if n == prefix or n.startswith(prefix + ".")]

    def hot_spots(self) -> list[str]:
        spots = hot_spots(self.course.root, self.files, self.cancel)
        spots = [s for s in spots if s.complexity >= MIN_HOT_COMPLEXITY]
        if not spots:
            return []
        top = spots[0]
        lines = [
            "## Complexity hot spots",
            "",
            "Cyclomatic complexity counts the independent paths through a function, so it "
            "tells where a change needs the most care and the most tests. Measured with lizard, "
            f"the most branching function here is `{self._spot_name(top)}` with "
            f"{top.complexity} paths in {plural(top.lines, 'line')} of code.",
            "",
            "| Function | Where | Complexity | Lines of code |",
            "| --- | --- | --- | --- |",
        ]
        for spot in spots:
            lines.append(
                f"| `{self._spot_name(spot)}` | {self.cite(spot.path, spot.start, spot.end)}"
                f" | {spot.complexity} | {spot.lines} |"
            )
        return [*lines, ""]

    def _spot_name(self, spot: HotSpot) -> str:
        facts = self.graph.facts[spot.path]
        for symbol in facts.symbols:
            if (
                symbol.start == spot.start
                and symbol.name.rsplit(".", 1)[-1] == spot.name.split("::")[-1]
            ):
                return symbol.name
        return spot.name.replace("::", ".")

    def navigation(self) -> list[str]:
        links: list[str] = []
        if self.i > 0:
            prev = self.course.ordered[self.i - 1]
            links.append(f"[Previous: {prev.name}]({chapter_filename(self.i, prev.id)})")
        if self.i + 1 < len(self.course.ordered):
            nxt = self.course.ordered[self.i + 1]
            links.append(f"[Next: {nxt.name}]({chapter_filename(self.i + 2, nxt.id)})")
        return ["---", "", " · ".join(links), ""] if links else []
