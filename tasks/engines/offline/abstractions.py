"""Step 1: choose the concepts a user of the project meets, and describe each from its code.

Candidates come from ``units.plan_units`` (modules in a small project, packages in a
large one), with sibling files of one family merged (``flag.go``, ``flag_int.go``...).
Tests, examples, benchmarks, typings and generated code never become candidates: they
are sources for excerpts and tutorials. Each candidate is scored by what users touch
(its public names in the README and the examples, the names a package re-exports, how
many files use them) and by centrality (PageRank, importers, size), and is named after
the concept it holds: its central public type when one dominates, else the module or
package. The entry point (``entry.entry_point``) comes first, then the best scores.
Each summary is assembled from docstrings, public symbols and dependents: nothing is
invented.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import networkx as nx

from fondation.cancel import CancelToken
from fondation.errors import PermanentError
from tasks.course.artifacts import Abstraction, AbstractionsArtifact, Citation
from tasks.engines.offline.entry import Entry, entry_point, exported_names
from tasks.engines.offline.graph import CodeGraph, SymbolRef, pagerank
from tasks.engines.offline.index import Index
from tasks.engines.offline.languages import is_support_path
from tasks.engines.offline.model import Symbol
from tasks.engines.offline.showcase import Showcase
from tasks.engines.offline.text import (
    first_paragraph,
    first_sentence,
    join_names,
    plural,
    unique_slug,
)
from tasks.engines.offline.units import (
    MAX_CHAPTERS,
    Unit,
    chapter_count,
    plan_units,
)

MUST_INCLUDE = 3  # modules with the most importers
MAX_SYMBOLS = 12
IMPORTERS_WEIGHT = 0.5
SIZE_WEIGHT = 0.75
TOUCH_WEIGHT = 2.0
UNIMPORTED_SIZE = 0.3
TINY_LINES = 100
TINY_SHARE = 0.01
TINY_FACTOR = 0.5
PRIVATE_FACTOR = 0.4  # a "_module" none of whose names users touch
DOMINANT_SHARE = 0.4  # a type holding this share of a unit's touch names the unit
EXPORTED_TOUCH = 2.0
MAKER_SHARE = 0.5  # a mention of a type's factory counts half for the type
REACH_WEIGHT = 0.3  # the entry point's own unit; half for what it calls, a third beyond
REACH_DEPTH = 2
MIN_DEFINING = 3  # candidates that define something, below which none is left out
SUBSTANTIAL_LINES = (
    5  # a type shorter than this (an alias, a one-method interface) names no chapter
)
TYPE_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type"})
_FAMILY = re.compile(r"^_*([A-Za-z0-9]+)")


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


def code_files(index: Index) -> dict[str, int]:
    """Files a chapter may be about: not tests, examples, benchmarks, typings or generated
    code (those are used by chapters and tutorials, not taught as concepts)."""
    code = {p: f.lines for p, f in index.files.items() if not is_support_path(p)}
    return code or {p: f.lines for p, f in index.files.items()}


@dataclass(frozen=True)
class Touch:
    """How much users touch each public name: README and examples, re-exports, uses."""

    graph: CodeGraph
    usage: Usage
    showcase: Showcase
    exported: frozenset[str]

    def symbol(self, path: str, symbol: Symbol) -> float:
        # Uses by the project's own code are centrality, counted apart; tests and
        # examples use what a user would.
        score = self.showcase.mentions.get(symbol.name, 0.0)
        if symbol.kind in TYPE_KINDS:
            # What makes one: ``@click.command`` builds a Command, ``cli.NewApp`` an App.
            maker = symbol.name[:1].lower() + symbol.name[1:]
            score += (
                MAKER_SHARE * self.showcase.mentions.get(maker, 0.0)
                if maker != symbol.name
                else 0.0
            )
            score += MAKER_SHARE * self.showcase.mentions.get("New" + symbol.name, 0.0)
        score += EXPORTED_TOUCH if symbol.name in self.exported else 0.0
        users = self.usage.users.get((path, symbol.name), frozenset())
        return score + sum(1 for u in users if is_support_path(u))

    def rank(self, path: str, symbol: Symbol) -> float:
        """Touch first, then how much the project's own files use the name."""
        return self.symbol(path, symbol) + 0.5 * self.usage.count(path, symbol.name)

    def unit(self, unit: Unit) -> float:
        return sum(self.symbol(p, s) for p, s in _public(unit, self.graph))


def merge_families(units: list[Unit]) -> list[Unit]:
    """Sibling modules of one family (``flag.go``, ``flag_int.go``; ``termui.py``,
    ``_termui_impl.py``) become one candidate, led by the file named like the family."""
    families: dict[tuple[str, str, str], list[Unit]] = defaultdict(list)
    out: list[Unit] = []
    for unit in units:
        name = posixpath.basename(unit.path)
        match = _FAMILY.match(name)
        if unit.is_dir or match is None:
            out.append(unit)
            continue
        suffix = posixpath.splitext(name)[1]
        families[(posixpath.dirname(unit.path), match.group(1).lower(), suffix)].append(unit)
    for (_, family, suffix), members in families.items():
        if len(members) == 1:
            out += members
            continue
        lead = next(
            (u for u in members if posixpath.basename(u.path) == family + suffix), members[0]
        )
        files = tuple(sorted(f for u in members for f in u.files))
        out.append(Unit(lead.path, False, files, sum(u.lines for u in members)))
    return sorted(out, key=lambda u: u.path)


def extract_abstractions(
    index: Index, graph: CodeGraph, project: str, showcase: Showcase, cancel: CancelToken
) -> AbstractionsArtifact:
    code = code_files(index)
    if not code:
        raise PermanentError("the checkout has no source file the offline engine can read")
    chapters = chapter_count(len(code))
    units = merge_families(plan_units(code, chapters))
    usage = symbol_usage(graph)
    touch = Touch(graph, usage, showcase, exported_names(graph))
    # A file that defines nothing (a re-export hub, a table of constants) is read
    # through the chapters that use it, unless the project has little else.
    defining = [u for u in units if _public(u, graph)]
    if len(defining) >= MIN_DEFINING:
        units = defining
    chosen = select_units(units, graph, code, chapters, touch)
    taken: set[str] = set()
    names: set[str] = set()
    abstractions: list[Abstraction] = []
    for unit in chosen:
        cancel.check()
        abstractions.append(describe(unit, graph, touch, project, taken, names))
    entry = entry_point(abstractions, graph, showcase, project)
    if entry is not None:
        first = next(a for a in abstractions if a.id == entry.abstraction_id)
        abstractions = [first, *(a for a in abstractions if a is not first)]
    summary = project_summary(index, graph, project, abstractions, code)
    return AbstractionsArtifact(
        project_name=project,
        summary=summary + "\n\n" + order_paragraph(abstractions[0], entry),
        abstractions=abstractions,
        skipped=index.skipped,
    )


def order_paragraph(first: Abstraction, entry: Entry | None) -> str:
    """Why the chapters come in their order, in one paragraph for the index."""
    why = (
        f"because {entry.reason}"
        if entry is not None
        else "because it is what the project's users and files touch most"
    )
    return (
        f"The chapters start where a user starts, with `{first.name}`, {why}. From there "
        "they go outward through what each chapter uses, so that most chapters build on "
        "earlier ones and a chapter that needs a later one says so; between chapters "
        "that do not depend on each other, the foundations come first."
    )


def select_units(
    units: list[Unit], graph: CodeGraph, code: dict[str, int], chapters: int, touch: Touch
) -> list[Unit]:
    """The modules most imported first, then the best scores; best score first."""
    unit_of = {f: u for u in units for f in u.files}
    scores = unit_scores(units, graph, code, touch)
    imported = {f: len(graph.importers(f, "imports")) for f in unit_of}
    most_imported = sorted(unit_of, key=lambda f: (-imported[f], f))[:MUST_INCLUDE]
    # ...unless they are private helpers no user touches (a ``_compat`` module).
    must = [unit_of[f] for f in most_imported if imported[f] and scores[unit_of[f].path] > 0]
    must = [u for u in must if touch.unit(u) or not _private(u)]
    ranked = sorted(units, key=lambda u: (-scores[u.path], u.path))
    # In a small project the most imported modules could take every place: keep some
    # for the best-scored ones (often the large module users actually call).
    chapters = min(MAX_CHAPTERS, max(chapters, len(set(must)) + chapters // 2))
    chosen: list[Unit] = []
    for unit in [*must, *ranked]:
        if unit not in chosen and (unit.lines > 0 or len(ranked) <= chapters):
            chosen.append(unit)
    return sorted(chosen[:chapters], key=lambda u: (-scores[u.path], u.path))


def unit_scores(
    units: list[Unit], graph: CodeGraph, code: dict[str, int], touch: Touch
) -> dict[str, float]:
    """How much users touch each candidate, how central and how substantial it is.

    PageRank runs on the graph of candidates (edges inside one candidate do not count, or
    a package of many small modules would rank by its internal wiring). Then its share
    of what users touch, the share of outside files that import it, and its share of the
    code: a large module nobody imports (a plug-in loaded by name) counts less, a tiny
    one counts half, a private module whose names nobody touches less than half.
    """
    unit_of = {f: u.path for u in units for f in u.files}
    grouped = nx.DiGraph()
    grouped.add_nodes_from(u.path for u in units)
    for source, target in graph.files.edges:
        a, b = unit_of.get(source), unit_of.get(target)
        if a is not None and b is not None and a != b:
            if not grouped.has_edge(a, b):
                grouped.add_edge(a, b, weight=0.0)
            grouped.edges[a, b]["weight"] += 1.0
    rank = pagerank(grouped)
    outside = {
        u.path: len({i for f in u.files for i in graph.importers(f)} - set(u.files)) for u in units
    }
    importers_total = max(1, sum(outside.values()))
    lines_total = max(1, sum(code.values()))
    tiny = max(TINY_LINES, TINY_SHARE * lines_total)
    touched = {u.path: touch.unit(u) for u in units}
    touch_total = max(1.0, sum(touched.values()))
    reach = reached(units, graph, touch.showcase, unit_of)
    scores: dict[str, float] = {}
    for unit in units:
        size = unit.lines / lines_total * (1.0 if outside[unit.path] else UNIMPORTED_SIZE)
        score = rank[unit.path] + IMPORTERS_WEIGHT * outside[unit.path] / importers_total
        score += SIZE_WEIGHT * size + TOUCH_WEIGHT * touched[unit.path] / touch_total
        score += REACH_WEIGHT / (1 + reach[unit.path]) if unit.path in reach else 0.0
        score *= TINY_FACTOR if unit.lines < tiny else 1.0
        private = _private(unit) and not touched[unit.path]
        scores[unit.path] = score * (PRIVATE_FACTOR if private else 1.0)
    return scores


def _private(unit: Unit) -> bool:
    """A module its package keeps to itself (``_compat.py``; not ``__init__.py``)."""
    name = posixpath.basename(unit.path)
    return not unit.is_dir and name.startswith("_") and not name.startswith("__init__.")


def reached(
    units: list[Unit], graph: CodeGraph, showcase: Showcase, unit_of: dict[str, str]
) -> dict[str, int]:
    """How many calls (or type uses) away from the entry point each candidate is: the
    unit whose public name the README's (or an example's) first snippet uses, then what
    it calls, then what those call, up to ``REACH_DEPTH``."""
    owner: dict[str, str] = {}
    for unit in units:
        for _, symbol in _public(unit, graph):
            owner.setdefault(symbol.name, unit.path)
    found = showcase.first_use(set(owner))
    if found is None:
        return {}
    distance = {owner[found[1]]: 0}
    ring = [owner[found[1]]]
    members: dict[str, list[str]] = defaultdict(list)
    for path, held_by in unit_of.items():
        members[held_by].append(path)
    for depth in range(1, REACH_DEPTH + 1):
        following: list[str] = []
        for current in ring:
            for path in members[current]:
                for target in graph.files.successors(path):
                    kinds = graph.files.edges[path, target]["lines"]
                    other = unit_of.get(target)
                    if other is not None and other not in distance and set(kinds) - {"imports"}:
                        distance[other] = depth
                        following.append(other)
        ring = sorted(following)
    return distance


def unit_name(unit: Unit, graph: CodeGraph, project: str) -> str:
    """The module or package name of a unit, as an import statement spells it."""
    modules = graph.module_names
    if unit.is_dir:
        init = posixpath.join(unit.path, "__init__.py")
        if init in modules:
            return modules[init]
        packages = {graph.facts[f].package for f in unit.files}
        if len(packages) == 1 and graph.facts[unit.files[0]].language == "java":
            return packages.pop() or unit.path or project
        return unit.path or project
    if unit.path in modules:
        return modules[unit.path]
    # Other languages: the module as imported (``help`` for help.go, the package for
    # the file named like its package).
    stem = posixpath.basename(unit.path).split(".", 1)[0]
    package = graph.facts[unit.path].package if unit.path in graph.facts else ""
    return package if package and package == stem else stem or unit.path


def _public(unit: Unit, graph: CodeGraph) -> list[tuple[str, Symbol]]:
    found: list[tuple[str, Symbol]] = []
    seen: set[str] = set()
    for path in unit.files:
        for symbol in graph.facts[path].top_level():
            if symbol.public and symbol.kind != "impl" and symbol.name not in seen:
                seen.add(symbol.name)
                found.append((path, symbol))
    return found


def public_symbols(unit: Unit, graph: CodeGraph, touch: Touch) -> list[tuple[str, Symbol]]:
    """Public top-level symbols, most touched first (then in file and line order)."""
    found = _public(unit, graph)
    order = {p: i for i, p in enumerate(unit.files)}
    found.sort(key=lambda ps: (-touch.rank(*ps), order[ps[0]], ps[1].start))
    return found


def concept_name(unit: Unit, graph: CodeGraph, touch: Touch, project: str) -> str:
    """The name a user gives the unit: its central public type when one dominates (or is
    named like the file that holds it), else the module or package."""
    symbols = public_symbols(unit, graph, touch)
    total = sum(touch.symbol(p, s) for p, s in symbols)
    stem = posixpath.splitext(posixpath.basename(unit.path))[0].replace("_", "")
    types = [(p, s) for p, s in symbols if s.kind in TYPE_KINDS]
    share = {s.name: touch.symbol(p, s) / total if total else 0.0 for p, s in symbols}
    for _, symbol in types:
        if not unit.is_dir and _plain(symbol.name) == _plain(stem) and share[symbol.name] > 0:
            return symbol.name  # websocket.js holds WebSocket
    for _, symbol in types:
        if share[symbol.name] >= DOMINANT_SHARE:
            return symbol.name
    touched = [
        s.name for _, s in types if share[s.name] > 0 and s.end - s.start >= SUBSTANTIAL_LINES
    ]
    if len(touched) >= 2 and not unit.is_dir:
        return f"{touched[0]} and {touched[1]}"  # a module of several concepts: its two main ones
    functions = [s.name for p, s in symbols if s.kind == "function" and share[s.name] > 0]
    if _private(unit) and functions:
        # ``httpx._api`` is no name a user knows; what it offers (``get``...) is.
        return " and ".join(functions[:2])
    return unit_name(unit, graph, project)


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def describe(
    unit: Unit,
    graph: CodeGraph,
    touch: Touch,
    project: str,
    taken: set[str],
    names: set[str],
) -> Abstraction:
    name = concept_name(unit, graph, touch, project)
    module = unit_name(unit, graph, project)
    if name in names:
        name = f"{name} ({module})"
    names.add(name)
    symbols = public_symbols(unit, graph, touch)[:MAX_SYMBOLS]
    citations = [
        Citation(path=p, start_line=s.start, end_line=max(s.start, s.end)) for p, s in symbols
    ]
    if not citations:
        lead = max(unit.files, key=lambda f: (graph.facts[f].lines, f))
        if graph.facts[lead].lines:
            citations = [Citation(path=lead, start_line=1, end_line=graph.facts[lead].lines)]
    return Abstraction(
        id=unique_slug(name, taken),
        name=name,
        summary=unit_summary(unit, module, graph, touch.usage, symbols, set(unit.files)),
        files=list(unit.files),
        symbols=[s.name for _, s in symbols],
        citations=citations,
    )


def unit_doc(unit: Unit, graph: CodeGraph) -> tuple[str, str]:
    """The best docstring for a unit, and the file it comes from."""
    init = posixpath.join(unit.path, "__init__.py") if unit.is_dir else unit.path
    if init in graph.facts and graph.facts[init].doc:
        return graph.facts[init].doc, init
    for path in sorted(unit.files, key=lambda f: (-graph.rank.get(f, 0.0), f)):
        if graph.facts[path].doc:
            return graph.facts[path].doc, path
    return "", ""


def unit_summary(
    unit: Unit,
    name: str,
    graph: CodeGraph,
    usage: Usage,
    symbols: list[tuple[str, Symbol]],
    members: set[str],
) -> str:
    parts: list[str] = []
    doc, source = unit_doc(unit, graph)
    if doc:
        said = first_paragraph(doc, 320)
        parts.append(
            said
            if source in (unit.path, posixpath.join(unit.path, "__init__.py"))
            else f"Its central module `{source}` opens with: “{said}”"
        )
    if unit.is_dir:
        parts.append(
            f"`{name}` spans {plural(len(unit.files), 'file')} and {plural(unit.lines, 'line')}."
        )
    else:
        parts.append(f"`{name}` is a single module of {plural(unit.lines, 'line')}.")
    if symbols:
        lead = symbols[0][1]
        said = first_sentence(lead.doc, 160)
        parts.append(
            f"Its most used public {lead.kind} is `{lead.name}`"
            + (f" ({said.rstrip('.')})" if said else "")
            + "."
            + (
                f" Other public names: {join_names([s.name for _, s in symbols[1:]], 5)}."
                if len(symbols) > 1
                else ""
            )
        )
    parts.append(_dependents_sentence(unit, graph, members))
    return " ".join(p for p in parts if p)


def _dependents_sentence(unit: Unit, graph: CodeGraph, members: set[str]) -> str:
    importers = {i for f in unit.files for i in graph.importers(f) if i not in members}
    if not importers:
        return "No other file of the project imports it directly."
    places = Counter(posixpath.dirname(i) or "the top level" for i in importers)
    top = [p for p, _ in sorted(places.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
    if len(importers) == 1:
        return f"One other file depends on it: `{next(iter(importers))}`."
    return f"{len(importers)} other files depend on it, most of them in {join_names(top, 3)}."


def project_summary(
    index: Index,
    graph: CodeGraph,
    project: str,
    abstractions: list[Abstraction],
    code: dict[str, int],
) -> str:
    languages = Counter(index.files[p].language for p in code)
    covered = {f for a in abstractions for f in a.files}
    covered_lines = sum(code.get(f, 0) for f in covered)
    total = max(1, sum(code.values()))
    mix = ", ".join(
        f"{lang}: {n}" for lang, n in sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    tests = len(index.files) - len(code)
    edges = plural(graph.files.number_of_edges(), "file dependency", "file dependencies")
    share = round(100 * covered_lines / total)
    parts = [
        f"{project} has {plural(len(code), 'source file')} ({sum(code.values())} lines; "
        f"files by language: {mix}) besides {plural(tests, 'test, example or support file')}.",
        f"Candidate packages and modules were ranked by what users touch (the names the "
        f"README and the examples use, what the package exports, how many files use each "
        f"name), by PageRank over {edges}, by how many files import them and by size; tests, "
        f"examples, benchmarks and typings were left to excerpts and tutorials. The "
        f"{plural(len(abstractions), 'abstraction')} "
        f"chosen hold {len(covered)} of those files ({share}% of the lines).",
    ]
    if index.skipped:
        reasons = Counter(r.split(" (", 1)[0] for r in index.skipped.values())
        parts.append(
            "Left out: "
            + "; ".join(f"{plural(n, 'path')} as {r}" for r, n in sorted(reasons.items()))
            + "."
        )
    return " ".join(parts)
