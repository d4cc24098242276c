"""Step 1: choose the concepts a user of the project meets, and describe each from its code.

Candidates come from ``units.plan_units`` (modules in a small project, packages in a
large one); files of one family become one candidate (``families``: typed variants such
as ``bool.go``, ``int.go``..., one implementation per format, siblings by name such as
``flag.go``, ``flag_int.go``). Tests, examples, benchmarks, typings and generated code
never become candidates: they are sources for excerpts and tutorials. Plumbing
(``plumbing``: utilities, typing helpers, constants, type guards, warning classes) is
no candidate either unless the README makes it a topic; each such file joins the chapter
that uses it most. Each candidate is scored by what users touch (its public names in the
README and the examples, the README's headings that name it, the names a package
re-exports, how many files use them) and by centrality (PageRank, importers, size), and
is named after the concept it holds: a family's pattern and members, its central public
type when one dominates, else the module or package. The entry point
(``entry.entry_point``) comes first, then the best scores. Each summary is assembled from
docstrings, public symbols and dependents: nothing is invented.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from analysis.course.artifacts import Abstraction, AbstractionsArtifact
from analysis.offline.describe import describe, project_summary
from analysis.offline.entry import Entry, entry_point, exported_names, handed_out
from analysis.offline.families import merge_families
from analysis.offline.graph import CodeGraph, pagerank
from analysis.offline.index import Index
from analysis.offline.languages import is_support_path
from analysis.offline.plumbing import strip_plumbing, topics
from analysis.offline.showcase import Showcase
from analysis.offline.text import join_names, unique_slug
from analysis.offline.touch import Touch, private_unit, public_names, symbol_usage
from analysis.offline.units import (
    MAX_CHAPTERS,
    Unit,
    chapter_count,
    plan_units,
)
from fondation.cancel import CancelToken
from fondation.errors import PermanentError

MUST_INCLUDE = 3  # modules with the most importers
IMPORTERS_WEIGHT = 0.5
SIZE_WEIGHT = 0.75
TOUCH_WEIGHT = 2.0
UNIMPORTED_SIZE = 0.3
TINY_LINES = 100
TINY_SHARE = 0.01
TINY_FACTOR = 0.5
PRIVATE_FACTOR = 0.4  # a "_module" none of whose names users touch
REACH_WEIGHT = 0.3  # the entry point's own unit; half for what it calls, a third beyond
REACH_DEPTH = 2
MIN_DEFINING = 3  # candidates that define something, below which none is left out


def code_files(index: Index) -> dict[str, int]:
    """Files a chapter may be about: not tests, examples, benchmarks, typings or generated
    code (those are used by chapters and tutorials, not taught as concepts)."""
    code = {p: f.lines for p, f in index.files.items() if not is_support_path(p)}
    return code or {p: f.lines for p, f in index.files.items()}


def extract_abstractions(
    index: Index, graph: CodeGraph, project: str, showcase: Showcase, cancel: CancelToken
) -> AbstractionsArtifact:
    code = code_files(index)
    if not code:
        raise PermanentError("the checkout has no source file the offline engine can read")
    chapters = chapter_count(len(code))
    units = merge_families(plan_units(code, chapters), graph)
    usage = symbol_usage(graph)
    named = topics([*showcase.headings, *showcase.terms], project)
    touch = Touch(graph, usage, showcase, exported_names(graph), tuple(named))
    # A file that defines nothing (a re-export hub, a table of constants) is read
    # through the chapters that use them, and so is plumbing (utilities, typing helpers,
    # type guards, warning classes), unless the project has little else.
    given = set(handed_out(graph, index.manifests).values())
    defining = [
        u for u in units if public_names(u, graph) or _makes_what_is_handed_out(u, graph, given)
    ]
    units = defining if len(defining) >= MIN_DEFINING else units
    stripped = strip_plumbing(units, graph, named, frozenset(showcase.mentions))
    plumbing: list[str] = []
    if len(stripped) >= MIN_DEFINING:
        kept_files = {f for u in stripped for f in u.files}
        plumbing = sorted(f for u in units for f in u.files if f not in kept_files)
        units = stripped
    chosen = select_units(units, graph, code, chapters, touch)
    found = entry_unit(units, graph, touch, project, showcase, index.manifests)
    if found is not None:
        # The entry's candidate comes first, even when it scored too low to be chosen.
        chosen = [found[0], *(u for u in chosen if u != found[0])][: max(len(chosen), 1)]
    taken: set[str] = set()
    names: set[str] = set()
    abstractions: list[Abstraction] = []
    for unit in chosen:
        cancel.check()
        abstractions.append(describe(unit, graph, touch, project, taken, names))
    entry: Entry | None = None
    if found is not None:
        first = abstractions.pop(0)
        if found[1].command:
            first = command_chapter(first, found[1], abstractions)
        entry = Entry(first.id, found[1].name, found[1].reason, found[1].command)
        abstractions = [first, *abstractions]
    abstractions = attach_plumbing(abstractions, plumbing, graph)
    summary = project_summary(index, graph, project, abstractions, code)
    return AbstractionsArtifact(
        project_name=project,
        summary=summary + "\n\n" + order_paragraph(abstractions[0], entry),
        abstractions=abstractions,
        skipped=index.skipped,
    )


def attach_plumbing(
    abstractions: list[Abstraction], plumbing: list[str], graph: CodeGraph
) -> list[Abstraction]:
    """Each plumbing file joins the chapter whose files use it most (the first such
    chapter on a tie), so that it is read where it is used; one no chapter uses is left
    out."""
    extra: dict[str, list[str]] = defaultdict(list)
    for path in plumbing:
        users = set(graph.importers(path))
        best = max(
            abstractions,
            key=lambda a: (len(users.intersection(a.files)), -abstractions.index(a)),
            default=None,
        )
        if best is not None and users.intersection(best.files):
            extra[best.id].append(path)
    return [
        a.model_copy(
            update={
                "files": [*a.files, *extra[a.id]],
                "summary": f"{a.summary} It also holds the plumbing it uses most: "
                f"{join_names(extra[a.id], 4)}.",
            }
        )
        if extra[a.id]
        else a
        for a in abstractions
    ]


def _makes_what_is_handed_out(unit: Unit, graph: CodeGraph, given: set[str]) -> bool:
    """A module that defines no public name but makes what the package hands out (the
    ``axios`` object of lib/axios.js)."""
    return any(f in given and graph.facts[f].symbols for f in unit.files)


def entry_unit(
    units: list[Unit],
    graph: CodeGraph,
    touch: Touch,
    project: str,
    showcase: Showcase,
    manifests: dict[str, str],
) -> tuple[Unit, Entry] | None:
    """The candidate that holds the entry point, found among all candidates (so that the
    course has it even when it scores low: an ``axios.js`` of one function)."""
    taken: set[str] = set()
    names: set[str] = set()
    described = [describe(u, graph, touch, project, taken, names) for u in units]
    families = frozenset(a.id for a, u in zip(described, units, strict=True) if u.family)
    entry = entry_point(described, graph, showcase, project, manifests, families)
    if entry is None:
        return None
    by_id = {a.id: u for a, u in zip(described, units, strict=True)}
    return by_id[entry.abstraction_id], entry


def command_chapter(
    first: Abstraction, entry: Entry, abstractions: list[Abstraction]
) -> Abstraction:
    """The chapter of an application's declared command is named after the command."""
    name = f"{entry.command} command"
    taken = {a.id for a in abstractions if a is not first}
    return first.model_copy(update={"name": name, "id": unique_slug(name, taken)})


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
    must = [u for u in must if touch.unit(u) or not private_unit(u)]
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
        private = private_unit(unit) and not touched[unit.path]
        scores[unit.path] = score * (PRIVATE_FACTOR if private else 1.0)
    return scores


def reached(
    units: list[Unit], graph: CodeGraph, showcase: Showcase, unit_of: dict[str, str]
) -> dict[str, int]:
    """How many calls (or type uses) away from the entry point each candidate is: the
    unit whose public name the README's (or an example's) first snippet uses, then what
    it calls, then what those call, up to ``REACH_DEPTH``."""
    owner: dict[str, str] = {}
    for unit in units:
        for _, symbol in public_names(unit, graph):
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
