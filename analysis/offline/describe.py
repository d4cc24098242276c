"""Step 1's descriptions: the name of each chosen concept (its central public type when one
dominates, else the module or package) and its summary, assembled from docstrings, public
symbols and dependents; nothing is invented. Also the project's summary."""

from __future__ import annotations

import posixpath
import re
from collections import Counter

from analysis.course.artifacts import Abstraction, Citation
from analysis.offline.families import family_title
from analysis.offline.graph import CodeGraph
from analysis.offline.index import Index
from analysis.offline.model import Symbol
from analysis.offline.text import (
    first_paragraph,
    first_sentence,
    join_names,
    plural,
    unique_slug,
)
from analysis.offline.touch import TYPE_KINDS, Touch, Usage, private_unit, public_names
from analysis.offline.units import (
    Unit,
)

MAX_SYMBOLS = 12
_HUB_STEMS = ("index", "main", "mod", "lib")
_SECONDARY_NAMES = ("Error", "Exception", "Warning")
DOMINANT_SHARE = 0.4  # a type holding this share of a unit's touch names the unit
SUBSTANTIAL_LINES = (
    5  # a type shorter than this (an alias, a one-method interface) names no chapter
)


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


def public_symbols(unit: Unit, graph: CodeGraph, touch: Touch) -> list[tuple[str, Symbol]]:
    """Public top-level symbols, most touched first (then in file and line order)."""
    found = public_names(unit, graph)
    order = {p: i for i, p in enumerate(unit.files)}
    found.sort(key=lambda ps: (-touch.rank(*ps), order[ps[0]], ps[1].start))
    return found


def concept_name(unit: Unit, graph: CodeGraph, touch: Touch, project: str) -> str:
    """The name a user gives the unit: a family's pattern and members; its central public
    type when one dominates (or is named like the file that holds it), else the module
    or package."""
    if unit.family:
        return family_title(unit.family)
    stem = posixpath.basename(unit.path).split(".", 1)[0]
    if not unit.is_dir and stem in _HUB_STEMS and unit.path in graph.facts:
        handed = graph.facts[unit.path].default_export
        if handed:
            return handed  # an index.js that hands out `picomatch` teaches `picomatch`
    symbols = public_symbols(unit, graph, touch)
    total = sum(touch.symbol(p, s) for p, s in symbols)
    stem = posixpath.splitext(posixpath.basename(unit.path))[0].replace("_", "")
    types = [(p, s) for p, s in symbols if s.kind in TYPE_KINDS]
    # Errors and typing protocols name a unit only when they are most of its types (an
    # exceptions module): markdown-it's renderer is RendererHTML, not its Protocol.
    primary = [(p, s) for p, s in types if not _secondary(s)]
    if 2 * len(primary) >= len(types):
        types = primary
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
    if private_unit(unit) and functions:
        # ``httpx._api`` is no name a user knows; what it offers (``get``...) is.
        return " and ".join(functions[:2])
    return unit_name(unit, graph, project)


def _secondary(symbol: Symbol) -> bool:
    """An error (by its name or its base) or a typing protocol."""
    bases = [b.rsplit(".", 1)[-1] for b in symbol.bases]
    return symbol.name.endswith(_SECONDARY_NAMES) or any(
        b in ("Protocol", "TypedDict") or b.endswith(_SECONDARY_NAMES) for b in bases
    )


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
    if unit.family:
        label, variants = unit.family[0], unit.family[1:]
        parts.append(
            f"A family of {plural(len(variants), 'file')} ({plural(unit.lines, 'line')}) that "
            f"repeat one pattern, `{label}`, once per variant: {join_names(list(variants), 40)}."
        )
    elif unit.is_dir:
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
        f"README and the examples use, the topics its headings and bold terms name, what the "
        f"package exports, how many files use each name), by PageRank over {edges}, by how "
        f"many files import them and by size; files that repeat one pattern were taken as "
        f"one family; tests, examples, benchmarks and typings were left to excerpts and "
        f"tutorials, and plumbing (utilities, typing helpers, constants, type guards, "
        f"warning classes) to the chapters that use it. The "
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
