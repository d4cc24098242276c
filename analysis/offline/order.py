"""Step 3: start where a user starts, then go outward through what each chapter uses.

The first abstraction of step 1 is the entry point (``entry.entry_point``: the README's
first example, the main exported type, the command line's ``main``). The order is a
breadth-first walk from it along "uses" edges: chapter 1, then what it uses, then what
those use. Within one ring, and when the walk must restart from an abstraction it did
not reach, foundations-first topological order (cycles condensed, ties by step 1's
rank) breaks the tie, so the order is deterministic.
"""

from __future__ import annotations

import networkx as nx

from analysis.course.artifacts import AbstractionsArtifact, OrderArtifact, RelationshipsArtifact
from analysis.offline.text import join_names


def dependency_graph(
    abstractions: AbstractionsArtifact, relationships: RelationshipsArtifact
) -> nx.DiGraph:
    """Edges run from a dependency to its dependent: the direction of reading."""
    ids = [a.id for a in abstractions.abstractions]
    graph = nx.DiGraph()
    graph.add_nodes_from(ids)
    known = set(ids)
    for rel in relationships.relationships:
        if rel.source != rel.target and rel.source in known and rel.target in known:
            graph.add_edge(rel.target, rel.source)
    return graph


def foundations_first(graph: nx.DiGraph, position: dict[str, int]) -> list[str]:
    """Dependencies before dependents; inside a cycle, the most used member first."""
    condensed = nx.condensation(graph)
    members: dict[int, set[str]] = {n: d["members"] for n, d in condensed.nodes(data=True)}

    def key(node: int) -> str:
        return f"{min(position[m] for m in members[node]):06d}"

    order: list[str] = []
    for node in nx.lexicographical_topological_sort(condensed, key=key):
        cycle = members[node]
        used = {m: sum(1 for d in graph.successors(m) if d in cycle) for m in cycle}
        order += sorted(cycle, key=lambda m: (-used[m], position[m]))
    return order


def determine_order(
    abstractions: AbstractionsArtifact, relationships: RelationshipsArtifact
) -> OrderArtifact:
    ids = [a.id for a in abstractions.abstractions]
    position = {a: i for i, a in enumerate(ids)}
    graph = dependency_graph(abstractions, relationships)
    tie = {a: i for i, a in enumerate(foundations_first(graph, position))}
    order: list[str] = []
    seen: set[str] = set()
    while len(order) < len(ids):
        start = ids[0] if not order else min(set(ids) - seen, key=lambda a: (tie[a], a))
        ring = [start]
        seen.add(start)
        while ring:
            order += ring
            # graph edges run dependency -> dependent, so what a node uses are its
            # predecessors.
            nxt = {d for node in ring for d in graph.predecessors(node)} - seen
            ring = sorted(nxt, key=lambda a: (tie[a], position[a]))
            seen |= nxt
    return OrderArtifact(order=order, rationale=_rationale(order, graph, abstractions))


def _rationale(order: list[str], graph: nx.DiGraph, abstractions: AbstractionsArtifact) -> str:
    names = {a.id: a.name for a in abstractions.abstractions}
    lines = [
        f"The course starts from `{names[order[0]]}`, where a user of the project starts, "
        "and goes outward through what each chapter uses; foundations-first order breaks "
        "the ties."
    ]
    place = {item: i for i, item in enumerate(order)}
    for i, item in enumerate(order):
        uses = sorted(graph.predecessors(item), key=lambda d: place[d])
        earlier = [names[d] for d in uses if place[d] < i]
        later = [names[d] for d in uses if place[d] > i]
        text = f"{i + 1}. `{names[item]}`"
        if earlier:
            text += f" builds on {join_names(earlier, 5)}"
        if later:
            text += (" and" if earlier else "") + f" uses {join_names(later, 5)}, explained later"
        if not uses:
            text += " uses no other abstraction of the course"
        lines.append(text + ".")
    return "\n".join(lines)
