"""What users touch of a project: which files use each symbol, and how much each public
name is met in the README, the examples and the re-exports; a private module is one its
package keeps to itself."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from analysis.offline.graph import CodeGraph, SymbolRef
from analysis.offline.languages import is_support_path
from analysis.offline.model import Symbol
from analysis.offline.plumbing import words
from analysis.offline.showcase import Showcase
from analysis.offline.units import (
    Unit,
)

EXPORTED_TOUCH = 2.0
HEADING_TOUCH = 4.0  # a README heading (or a documentation page) that names the unit
MAX_HEADINGS = 3
MAKER_SHARE = 0.5  # a mention of a type's factory counts half for the type
METHOD_SHARE = 0.25  # a method the examples call, for each type that defines one so named
TYPE_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type"})


@dataclass(frozen=True)
class Usage:
    """Which files use each symbol, read off the graph's edges."""

    users: dict[SymbolRef, frozenset[str]]

    def count(self, path: str, name: str) -> int:
        return len(self.users.get((path, name), frozenset()))


def symbol_usage(graph: CodeGraph) -> Usage:
    users: dict[SymbolRef, set[str]] = defaultdict(set)
    for source, target, data in graph.files.edges(data=True):
        for names in data["names"].values():
            for name in names:
                users[(target, name.split(".", 1)[0])].add(source)
    return Usage({key: frozenset(value) for key, value in users.items()})


@dataclass(frozen=True)
class Touch:
    """How much users touch each public name: README and examples, re-exports, uses."""

    graph: CodeGraph
    usage: Usage
    showcase: Showcase
    exported: frozenset[str]
    topics: tuple[frozenset[str], ...] = ()  # what the README's headings name
    _methods: dict[str, dict[str, set[str]]] = field(default_factory=dict, compare=False)

    def symbol(self, path: str, symbol: Symbol) -> float:
        # Uses by the project's own code are centrality, counted apart; tests and
        # examples use what a user would.
        score = self.showcase.mentions.get(symbol.name.rsplit(".", 1)[-1], 0.0)
        if symbol.kind in TYPE_KINDS:
            # What makes one: ``@click.command`` builds a Command, ``cli.NewApp`` an App.
            maker = symbol.name[:1].lower() + symbol.name[1:]
            score += (
                MAKER_SHARE * self.showcase.mentions.get(maker, 0.0)
                if maker != symbol.name
                else 0.0
            )
            score += MAKER_SHARE * self.showcase.mentions.get("New" + symbol.name, 0.0)
            # ``md.render(text)``: the types that have a ``render`` method share the call.
            if self.showcase.methods:
                score += METHOD_SHARE * sum(
                    self.showcase.methods.get(m, 0.0) for m in self.methods(path, symbol.name)
                )
        score += EXPORTED_TOUCH if symbol.name in self.exported else 0.0
        users = self.usage.users.get((path, symbol.name), frozenset())
        return score + sum(1 for u in users if is_support_path(u))

    def methods(self, path: str, owner: str) -> set[str]:
        """The public methods of type ``owner`` defined in ``path`` (read once per file)."""
        if path not in self._methods:
            found: dict[str, set[str]] = defaultdict(set)
            for s in self.graph.facts[path].symbols:
                head, _, method = s.name.partition(".")
                if method and s.public and not method.startswith("_"):
                    found[head].add(method)
            self._methods[path] = dict(found)
        return self._methods[path].get(owner, set())

    def rank(self, path: str, symbol: Symbol) -> float:
        """Touch first, then how much the project's own files use the name."""
        return self.symbol(path, symbol) + 0.5 * self.usage.count(path, symbol.name)

    def unit(self, unit: Unit) -> float:
        """The touch of its names, each less than the one before (a module of forty
        exported errors is one concept, not forty), and of the headings that name it."""
        found = public_names(unit, self.graph)
        ranked = sorted((self.symbol(p, s) for p, s in found), reverse=True)
        names = sum(value / (1 + i) for i, value in enumerate(ranked))
        return names + HEADING_TOUCH * self.headings(unit, [s.name for _, s in found])

    def headings(self, unit: Unit, names: list[str]) -> int:
        """How many of the README's topics name the unit (its folder or file, or one of
        its public names), up to ``MAX_HEADINGS``."""
        if not self.topics:
            return 0
        stem = posixpath.basename(unit.path).split(".", 1)[0]
        candidates = [words(stem), *(words(n) for n in names)]
        count = sum(1 for t in self.topics if any(t <= c for c in candidates))
        return min(MAX_HEADINGS, count)


def public_names(unit: Unit, graph: CodeGraph) -> list[tuple[str, Symbol]]:
    """Public top-level names; in Go also the public methods a file adds to a type
    defined in another file (cobra's ``bash_completions.go`` adds
    ``Command.GenBashCompletion``)."""
    found: list[tuple[str, Symbol]] = []
    seen: set[str] = set()
    for path in unit.files:
        facts = graph.facts[path]
        top = facts.top_level()
        own = {s.name for s in top}
        added = [
            s
            for s in facts.symbols
            if facts.language == "go"
            and s.kind == "method"
            and s.name.split(".", 1)[0] not in own
            and s.name.rsplit(".", 1)[-1][:1].isupper()
        ]
        for symbol in [*top, *added]:
            if symbol.public and symbol.kind != "impl" and symbol.name not in seen:
                seen.add(symbol.name)
                found.append((path, symbol))
    return found


def private_unit(unit: Unit) -> bool:
    """A module its package keeps to itself (``_compat.py``; not ``__init__.py``)."""
    name = posixpath.basename(unit.path)
    return not unit.is_dir and name.startswith("_") and not name.startswith("__init__.")
