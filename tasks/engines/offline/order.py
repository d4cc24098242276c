"""Step 3: foundations first. Dependencies come before the abstractions built on them.

Cycles are condensed into one node, so the order is a topological sort of a DAG;
``lexicographical_topological_sort`` breaks ties by step 1's rank, which makes the order
deterministic and puts the most central of several independent abstractions first.
Inside a cycle, the member the others use most comes first.
"""

from __future__ import annotations

import networkx as nx

from tasks.artifacts import AbstractionsArtifact, OrderArtifact, RelationshipsArtifact
from tasks.engines.offline.text import join_names


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


def determine_order(
    abstractions: AbstractionsArtifact, relationships: RelationshipsArtifact
) -> OrderArtifact:
    position = {a.id: i for i, a in enumerate(abstractions.abstractions)}
    graph = dependency_graph(abstractions, relationships)
    condensed = nx.condensation(graph)
    members: dict[int, set[str]] = {n: d["members"] for n, d in condensed.nodes(data=True)}

    def key(node: int) -> str:
        return f"{min(position[m] for m in members[node]):06d}"

    order: list[str] = []
    for node in nx.lexicographical_topological_sort(condensed, key=key):
        cycle = members[node]
        used = {m: sum(1 for d in graph.successors(m) if d in cycle) for m in cycle}
        order += sorted(cycle, key=lambda m: (-used[m], position[m]))
    return OrderArtifact(order=order, rationale=_rationale(order, graph, abstractions, members))


def _rationale(
    order: list[str],
    graph: nx.DiGraph,
    abstractions: AbstractionsArtifact,
    members: dict[int, set[str]],
) -> str:
    names = {a.id: a.name for a in abstractions.abstractions}
    lines = [
        "Each abstraction comes after the abstractions it depends on; ties go to the one "
        "more of the project depends on."
    ]
    place = {item: i for i, item in enumerate(order)}
    for i, item in enumerate(order, start=1):
        needs = sorted(graph.predecessors(item), key=lambda d: place[d])
        earlier = [names[d] for d in needs if place[d] < i - 1]
        later = [names[d] for d in needs if place[d] > i - 1]
        text = f"{i}. `{names[item]}`"
        if earlier:
            text += f" builds on {join_names(earlier, 5)}"
        if later:
            text += (" and" if earlier else "") + f" also uses {join_names(later, 5)}, in a cycle"
        if not needs:
            text += " depends on no other abstraction of the course"
        lines.append(text + ".")
    for cycle in sorted(sorted(m) for m in members.values() if len(m) > 1):
        lines.append(
            f"{join_names([names[c] for c in cycle], 6)} depend on each other; they are read "
            "in order of how much the others use them."
        )
    return "\n".join(lines)
