"""Step 4's sections about the code itself: the main symbols with their methods and
extension points, a closer look at the central one, its hot spots, and the table of files."""

from __future__ import annotations

from collections.abc import Iterable

from analysis.offline.chapter_context import (
    EXCERPT_LINES,
    MAX_FILES_IN_TABLE,
    MAX_METHODS,
    MAX_SYMBOLS,
    MIN_HOT_COMPLEXITY,
    ChapterContext,
)
from analysis.offline.complexity import HotSpot, hot_spots
from analysis.offline.files import decode, read_bytes
from analysis.offline.languages import FENCE
from analysis.offline.markdown import code_block
from analysis.offline.model import Symbol
from analysis.offline.parsing.common import split_lines
from analysis.offline.text import (
    and_list,
    first_paragraph,
    first_sentence,
    join_names,
    plural,
)
from fondation.errors import PermanentError


class CodeSections(ChapterContext):
    """The sections of a chapter that walk through its code."""

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
