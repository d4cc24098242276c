"""Step 2: the dependencies between abstractions, with what crosses each one.

The file graph is collapsed onto the abstractions of step 1. An edge's label names its
strongest kind of dependency (inherits, then calls, then imports) and the names that
cross it; its citations are the lines where the dependency is written.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from analysis.course.artifacts import (
    AbstractionsArtifact,
    Citation,
    Relationship,
    RelationshipsArtifact,
)
from analysis.offline.graph import KINDS, CodeGraph, aggregate
from analysis.offline.text import join_names, plural

MAX_CITATIONS = 5
MAX_NAMES = 4


def group_of(abstractions: AbstractionsArtifact) -> dict[str, str]:
    """file -> abstraction id; a file claimed twice stays with the first claimer."""
    out: dict[str, str] = {}
    for abstraction in abstractions.abstractions:
        for path in abstraction.files:
            out.setdefault(path, abstraction.id)
    return out


def abstraction_graph(graph: CodeGraph, abstractions: AbstractionsArtifact) -> nx.DiGraph:
    grouped = aggregate(graph, group_of(abstractions))
    grouped.add_nodes_from(a.id for a in abstractions.abstractions)
    return grouped


def strongest(data: dict[str, Any]) -> str:
    kinds = {kind for kind, _, _ in data["sites"]}
    return next(k for k in KINDS if k in kinds)


def parse_label(text: str) -> tuple[str, list[str], int]:
    """The kind, the names shown and how many more there are, from a ``label``."""
    kind, _, rest = text.partition(": ")
    more = 0
    if rest.endswith(")") and " (+" in rest:
        rest, _, count = rest[:-1].rpartition(" (+")
        more = int(count) if count.isdigit() else 0
    return kind, [n for n in rest.split(", ") if n], more


def label(data: dict[str, Any]) -> str:
    kind = strongest(data)
    names = sorted(data["names"].get(kind, set()))
    if not names:
        return kind
    shown = ", ".join(names[:MAX_NAMES]) + (
        f" (+{len(names) - MAX_NAMES})" if len(names) > MAX_NAMES else ""
    )
    return f"{kind}: {shown}"


def citations(data: dict[str, Any], graph: CodeGraph) -> list[Citation]:
    order = {kind: i for i, kind in enumerate(KINDS)}
    sites = sorted(data["sites"], key=lambda s: (order[s[0]], s[1], s[2]))
    out: list[Citation] = []
    for _, path, line in sites:
        if 1 <= line <= graph.facts[path].lines and len(out) < MAX_CITATIONS:
            citation = Citation(path=path, start_line=line, end_line=line)
            if citation not in out:
                out.append(citation)
    return out


def analyze_relationships(
    graph: CodeGraph, abstractions: AbstractionsArtifact
) -> RelationshipsArtifact:
    grouped = abstraction_graph(graph, abstractions)
    relationships = [
        Relationship(source=a, target=b, label=label(data), citations=citations(data, graph))
        for a, b, data in sorted(grouped.edges(data=True), key=lambda e: (e[0], e[1]))
    ]
    return RelationshipsArtifact(
        summary=_summary(grouped, abstractions),
        relationships=relationships,
    )


def _summary(grouped: nx.DiGraph, abstractions: AbstractionsArtifact) -> str:
    names = {a.id: a.name for a in abstractions.abstractions}
    edges = grouped.number_of_edges()
    if not edges:
        return "No abstraction imports another: each can be read on its own."
    kinds = Counter(strongest(d) for _, _, d in grouped.edges(data=True))
    parts = [
        f"The {plural(len(names), 'abstraction')} are linked by "
        f"{plural(edges, 'dependency', 'dependencies')}: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: KINDS.index(kv[0])))
        + " (each counted by its strongest kind)."
    ]
    used = sorted(grouped.nodes, key=lambda n: (-grouped.in_degree(n), n))[0]
    users = sorted(names[u] for u in grouped.predecessors(used))
    parts.append(f"The most depended-upon is `{names[used]}`, used by {join_names(users, 5)}.")
    cycles = [sorted(c) for c in nx.strongly_connected_components(grouped) if len(c) > 1]
    for cycle in sorted(cycles):
        parts.append(
            f"{join_names([names[c] for c in cycle], 6)} depend on each other in a "
            "cycle; the course orders them by how much each is used."
        )
    return " ".join(parts)
