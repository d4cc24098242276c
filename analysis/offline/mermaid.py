"""Mermaid diagrams: the small ``graph`` subset chapters emit, and a validator for it.

The subset: a header (``graph LR`` or ``flowchart TD``...), node declarations
``id["label"]``, and edges ``a --> b`` / ``a -.-> b`` with an optional ``|label|``
after the arrow, where either end may also be a declaration. Comments start with
``%%``. Anything else is rejected, so that what the validator accepts renders.
"""

from __future__ import annotations

import re

from analysis.course.artifacts import AbstractionsArtifact, RelationshipsArtifact

MAX_NEIGHBOURS = 10

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_NODE_LABEL = r'"[^"\[\]\n]*"'
_END = rf"{_ID}(?:\[{_NODE_LABEL}\])?"
_HEADER = re.compile(r"^(graph|flowchart)\s+(TB|TD|BT|RL|LR)\s*;?$")
_NODE = re.compile(rf"^{_ID}\[{_NODE_LABEL}\]\s*;?$")
_EDGE = re.compile(rf"^({_END})\s*(-->|-\.->)(?:\|([^|\"\[\]\n]*)\|)?\s*({_END})\s*;?$")
_UNSAFE = re.compile(r"[^A-Za-z0-9 _./:,()+-]+")
_RESERVED = frozenset({"end", "graph", "flowchart", "subgraph", "style", "class"})


def safe_label(text: str) -> str:
    """A label mermaid shows as written: quotes, brackets, pipes and markup removed."""
    return " ".join(_UNSAFE.sub(" ", text).split())[:60] or "?"


def node_id(index: int) -> str:
    return f"n{index}"


def validate(block: str) -> list[str]:
    """Problems with a diagram, one string per bad line; empty when it is valid."""
    lines = [(i, line.strip()) for i, line in enumerate(block.splitlines(), start=1)]
    lines = [(i, line) for i, line in lines if line and not line.startswith("%%")]
    if not lines:
        return ["empty diagram"]
    errors: list[str] = []
    first_no, first = lines[0]
    if not _HEADER.match(first):
        errors.append(f"line {first_no}: expected 'graph <direction>', got {first!r}")
    for number, line in lines[1:]:
        if not (_NODE.match(line) or _EDGE.match(line)):
            errors.append(f"line {number}: not a node or an edge: {line!r}")
        elif line.split("[", 1)[0].split()[0].lower() in _RESERVED:
            errors.append(f"line {number}: reserved word used as a node id")
    return errors


def neighbourhood(
    focus: str, abstractions: AbstractionsArtifact, relationships: RelationshipsArtifact
) -> str:
    """The focus abstraction, what it depends on, and what depends on it."""
    names = {a.id: a.name for a in abstractions.abstractions}
    edges = [
        r
        for r in relationships.relationships
        if focus in (r.source, r.target)
        and r.source != r.target
        and r.source in names
        and r.target in names
    ]
    edges.sort(key=lambda r: (-len(r.citations), r.source, r.target))
    neighbours: list[str] = []
    for rel in edges:
        other = rel.target if rel.source == focus else rel.source
        if other not in neighbours and len(neighbours) < MAX_NEIGHBOURS:
            neighbours.append(other)
    ids = {focus: node_id(0)} | {n: node_id(i) for i, n in enumerate(sorted(neighbours), start=1)}
    lines = ["graph LR"]
    lines += [f'  {ids[n]}["{safe_label(names[n])}"]' for n in [focus, *sorted(neighbours)]]
    for rel in sorted(edges, key=lambda r: (r.source, r.target)):
        if rel.source in ids and rel.target in ids:
            kind = rel.label.split(":", 1)[0]
            arrow = "-.->" if kind == "imports" else "-->"
            lines.append(f"  {ids[rel.source]} {arrow}|{safe_label(kind)}| {ids[rel.target]}")
    return "\n".join(lines)
