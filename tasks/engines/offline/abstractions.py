"""Step 1: choose the central packages and modules, and describe each from its code.

Candidates come from ``units.plan_units``. The modules with the most importers always
make it in (whatever imports them is built on them); the remaining places go to the
candidates with the highest score (``unit_scores``): centrality first, then size.
Each abstraction's summary is assembled from its docstrings,
its public symbols and the files that depend on it: nothing is invented.
"""

from __future__ import annotations

import posixpath
from collections import Counter, defaultdict
from dataclasses import dataclass

import networkx as nx

from fondation.errors import PermanentError
from tasks.artifacts import Abstraction, AbstractionsArtifact, Citation
from tasks.engines.base import CancelToken
from tasks.engines.offline.graph import CodeGraph, SymbolRef, pagerank
from tasks.engines.offline.index import Index
from tasks.engines.offline.languages import is_test_path
from tasks.engines.offline.model import Symbol
from tasks.engines.offline.text import (
    first_paragraph,
    first_sentence,
    join_names,
    plural,
    unique_slug,
)
from tasks.engines.offline.units import MAX_CHAPTERS, Unit, chapter_count, plan_units

MUST_INCLUDE = 5  # modules with the most importers
MAX_SYMBOLS = 12
IMPORTERS_WEIGHT = 0.5
SIZE_WEIGHT = 0.75
UNIMPORTED_SIZE = 0.3
TINY_LINES = 100
TINY_SHARE = 0.01
TINY_FACTOR = 0.5


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
    """Files an abstraction may hold (tests are used by tutorials, not as abstractions)."""
    code = {p: f.lines for p, f in index.files.items() if not is_test_path(p)}
    return code or {p: f.lines for p, f in index.files.items()}


def extract_abstractions(
    index: Index, graph: CodeGraph, project: str, cancel: CancelToken
) -> AbstractionsArtifact:
    code = code_files(index)
    if not code:
        raise PermanentError("the checkout has no source file the offline engine can read")
    chapters = chapter_count(len(code))
    units = plan_units(code, chapters)
    chosen = select_units(units, graph, code, chapters)
    usage = symbol_usage(graph)
    taken: set[str] = set()
    abstractions: list[Abstraction] = []
    for unit in chosen:
        cancel.check()
        abstractions.append(describe(unit, graph, usage, project, taken, set(unit.files)))
    return AbstractionsArtifact(
        project_name=project,
        summary=project_summary(index, graph, project, abstractions, code),
        abstractions=abstractions,
        skipped=index.skipped,
    )


def select_units(
    units: list[Unit], graph: CodeGraph, code: dict[str, int], chapters: int
) -> list[Unit]:
    """The modules most imported first, then the best scores; best score first."""
    unit_of = {f: u for u in units for f in u.files}
    scores = unit_scores(units, graph, code)
    imported = {f: len(graph.importers(f, "imports")) for f in code}
    most_imported = sorted(code, key=lambda f: (-imported[f], f))[:MUST_INCLUDE]
    must = [unit_of[f] for f in most_imported if imported[f]]
    ranked = sorted(units, key=lambda u: (-scores[u.path], u.path))
    # In a small project the most imported modules could take every place: keep some
    # for the best-scored ones (often the large module users actually call).
    chapters = min(MAX_CHAPTERS, max(chapters, len(set(must)) + chapters // 2))
    chosen: list[Unit] = []
    for unit in [*must, *ranked]:
        if unit not in chosen and (unit.lines > 0 or len(ranked) <= chapters):
            chosen.append(unit)
    return sorted(chosen[:chapters], key=lambda u: (-scores[u.path], u.path))


def unit_scores(units: list[Unit], graph: CodeGraph, code: dict[str, int]) -> dict[str, float]:
    """How central and how substantial each candidate is.

    PageRank runs on the graph of candidates (edges inside one candidate do not count, or
    a package of many small modules would rank by its internal wiring). Then the share
    of outside files that import it, and its share of the code: a large module nobody
    imports (a plug-in loaded by name) counts less, a tiny one counts half.
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
    scores: dict[str, float] = {}
    for unit in units:
        size = unit.lines / lines_total * (1.0 if outside[unit.path] else UNIMPORTED_SIZE)
        score = rank[unit.path] + IMPORTERS_WEIGHT * outside[unit.path] / importers_total
        score += SIZE_WEIGHT * size
        scores[unit.path] = score * (TINY_FACTOR if unit.lines < tiny else 1.0)
    return scores


def unit_name(unit: Unit, graph: CodeGraph, project: str) -> str:
    modules = graph.module_names
    if unit.is_dir:
        init = posixpath.join(unit.path, "__init__.py")
        if init in modules:
            return modules[init]
        packages = {graph.facts[f].package for f in unit.files}
        if len(packages) == 1 and graph.facts[unit.files[0]].language == "java":
            return packages.pop() or unit.path or project
        return unit.path or project
    return modules.get(unit.path, unit.path)


def public_symbols(unit: Unit, graph: CodeGraph, usage: Usage) -> list[tuple[str, Symbol]]:
    """Public top-level symbols, most used first (then in file and line order)."""
    found: list[tuple[str, Symbol]] = []
    seen: set[str] = set()
    for path in unit.files:
        for symbol in graph.facts[path].top_level():
            if symbol.public and symbol.kind != "impl" and symbol.name not in seen:
                seen.add(symbol.name)
                found.append((path, symbol))
    order = {p: i for i, p in enumerate(unit.files)}
    found.sort(key=lambda ps: (-usage.count(ps[0], ps[1].name), order[ps[0]], ps[1].start))
    return found


def describe(
    unit: Unit,
    graph: CodeGraph,
    usage: Usage,
    project: str,
    taken: set[str],
    members: set[str],
) -> Abstraction:
    name = unit_name(unit, graph, project)
    symbols = public_symbols(unit, graph, usage)[:MAX_SYMBOLS]
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
        summary=unit_summary(unit, name, graph, usage, symbols, members),
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
        f"files by language: {mix}) besides {plural(tests, 'test file')}.",
        f"Candidate packages and modules were ranked by PageRank over {edges}, by how many "
        f"files import them and by size; the {plural(len(abstractions), 'abstraction')} "
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
