"""The dependency graph of the checkout's files, with labelled edges.

An edge ``a -> b`` means file ``a`` depends on file ``b``. Each edge records, per kind of
dependency ("inherits", "implements", "calls", "uses" a type, "imports"), the lines of
``a`` where it happens and the names of ``b`` that cross it. A second graph links symbols
to the symbols they call in other files; a third map lists the subclasses
(implementations) of each class or interface.

Names cross files through imports, and in Go also without one: the files of a package
share its names. Those are resolved against the package's definitions, indexed by name
once per package, so the cost stays linear in the number of references.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from analysis.offline.index import Index
from analysis.offline.model import FileFacts
from analysis.offline.resolve import Resolvers, Target
from fondation.cancel import CancelToken

KINDS = ("inherits", "implements", "calls", "uses", "imports")  # strongest first
_REFERENCE_KINDS = {"call": "calls", "inherit": "inherits", "type": "uses"}
_REEXPORT_DEPTH = 3

SymbolRef = tuple[str, str]  # (path, symbol name)
Bindings = dict[str, list[Target]]


@dataclass
class CodeGraph:
    facts: dict[str, FileFacts]
    files: nx.DiGraph = field(default_factory=nx.DiGraph)
    calls: nx.DiGraph = field(default_factory=nx.DiGraph)  # nodes: "path::Symbol"
    subclasses: dict[SymbolRef, set[SymbolRef]] = field(default_factory=dict)
    rank: dict[str, float] = field(default_factory=dict)
    module_names: dict[str, str] = field(default_factory=dict)  # Python path -> module

    def importers(self, path: str, kind: str | None = None) -> list[str]:
        """Files that depend on ``path`` (through an edge of ``kind``, if given)."""
        if path not in self.files:
            return []
        return sorted(
            source
            for source in self.files.predecessors(path)
            if kind is None or kind in self.files.edges[source, path]["lines"]
        )

    def edge(self, source: str, target: str) -> dict[str, Any]:
        data: dict[str, Any] = self.files.edges[source, target]
        return data


def build_graph(index: Index, cancel: CancelToken) -> CodeGraph:
    resolvers = Resolvers(index.files, index.manifests)
    graph = CodeGraph(facts=index.files)
    graph.files.add_nodes_from(index.files)
    if resolvers.python is not None:
        graph.module_names = dict(resolvers.python.module_of)
    bindings: dict[str, Bindings] = {}
    for path, facts in index.files.items():
        cancel.check()
        bindings[path] = _link_imports(graph, path, resolvers.targets(path, facts))
    defined = {path: {s.name for s in facts.symbols} for path, facts in index.files.items()}
    packages = go_packages(index.files)
    for path, facts in index.files.items():
        cancel.check()
        local = packages.get(_package_key(path, facts), {}) if facts.language == "go" else {}
        _link_references(graph, path, facts, bindings, defined, local)
        _same_file_subclasses(graph, path, facts)
    for members in _package_members(index.files).values():
        cancel.check()
        _go_implementations(graph, members)
    graph.rank = pagerank(graph.files)
    return graph


def _package_key(path: str, facts: FileFacts) -> tuple[str, str]:
    return (path.rsplit("/", 1)[0] if "/" in path else "", facts.package)


def _package_members(files: dict[str, FileFacts]) -> dict[tuple[str, str], list[str]]:
    """Go files grouped by package (directory and package clause), tests left out."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, facts in files.items():
        if facts.language == "go" and not path.endswith("_test.go"):
            out[_package_key(path, facts)].append(path)
    return out


def go_packages(files: dict[str, FileFacts]) -> dict[tuple[str, str], dict[str, str]]:
    """Each Go package's top-level names (and ``Type.Method``), with the defining file."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for key, members in _package_members(files).items():
        names: dict[str, str] = {}
        for path in members:
            for symbol in files[path].symbols:
                names.setdefault(symbol.name, path)
        out[key] = names
    return out


def _go_implementations(graph: CodeGraph, members: list[str]) -> None:
    """Go interfaces are implemented implicitly: a type whose methods include all of an
    interface's, in the same package, implements it."""
    methods: dict[str, set[str]] = defaultdict(set)
    where: dict[str, tuple[str, int]] = {}
    interfaces: dict[str, tuple[str, set[str]]] = {}
    for path in members:
        for symbol in graph.facts[path].symbols:
            owner, _, method = symbol.name.partition(".")
            if not method:
                where.setdefault(owner, (path, symbol.start))
                if symbol.kind == "interface":
                    interfaces.setdefault(owner, (path, set()))
            elif symbol.kind == "method" and not symbol.abstract:
                methods[owner].add(method)
            elif symbol.abstract and owner in interfaces:
                interfaces[owner][1].add(method)
    for name, (path, wanted) in sorted(interfaces.items()):
        if not wanted:
            continue
        for owner, have in sorted(methods.items()):
            if owner == name or owner not in where or not wanted <= have:
                continue
            owner_path, line = where[owner]
            graph.subclasses.setdefault((path, name), set()).add((owner_path, owner))
            if owner_path != path:
                _add(graph.files, owner_path, path, "implements", line, name, 0.0)


def _link_imports(graph: CodeGraph, path: str, found: list[tuple[int, list[Target]]]) -> Bindings:
    bound: Bindings = defaultdict(list)
    for line, targets in found:
        share = 1.0 / len({t.path for t in targets})
        for target in targets:
            if target.binding:
                bound[target.binding].append(target)
            if line:  # line 0: visible without an import statement, not an edge by itself
                name = target.member if target.member not in ("", "*") else ""
                if name == "default" and target.path in graph.facts:
                    # A default import crosses under the name its module hands out.
                    name = graph.facts[target.path].default_export or name
                _add(graph.files, path, target.path, "imports", line, name, share)
    return dict(bound)


def _add(
    files: nx.DiGraph, source: str, target: str, kind: str, line: int, name: str, weight: float
) -> None:
    if not files.has_edge(source, target):
        files.add_edge(source, target, weight=0.0, lines=defaultdict(set), names=defaultdict(set))
    data = files.edges[source, target]
    data["weight"] += weight
    data["lines"][kind].add(line)
    if name:
        data["names"][kind].add(name)


def _link_references(
    graph: CodeGraph,
    path: str,
    facts: FileFacts,
    bindings: dict[str, Bindings],
    defined: dict[str, set[str]],
    local: dict[str, str],
) -> None:
    for ref in facts.references:
        found = resolve_name(ref.name, path, bindings, defined)
        if not found and local:
            found = _local_name(ref.name, local)
        for target, symbol in found:
            if target == path:
                continue
            kind = _REFERENCE_KINDS[ref.kind]
            if kind == "inherits" and _is_interface(graph.facts[target], symbol):
                kind = "implements"
            # No import statement carries the weight of an edge to a name of the same
            # package (Go, Java) or to a re-exported definition: its first use does, so
            # that PageRank sees that structure too.
            fresh = not graph.files.has_edge(path, target)
            _add(graph.files, path, target, kind, ref.line, symbol, 1.0 if fresh else 0.0)
            if ref.kind == "call":
                source_node, target_node = f"{path}::{ref.scope}", f"{target}::{symbol}"
                if not graph.calls.has_edge(source_node, target_node):
                    graph.calls.add_edge(source_node, target_node, line=ref.line)
            elif ref.kind == "inherit" and ref.scope:
                graph.subclasses.setdefault((target, symbol), set()).add((path, ref.scope))


def resolve_name(
    name: str,
    path: str,
    bindings: dict[str, Bindings],
    defined: dict[str, set[str]],
    depth: int = 0,
) -> list[SymbolRef]:
    """The symbols a dotted name used in ``path`` refers to, through its imports."""
    parts = name.split(".")
    bound = bindings.get(path, {})
    for cut in range(len(parts), 0, -1):
        targets = bound.get(".".join(parts[:cut]))
        if targets:
            rest = parts[cut:]
            found: list[SymbolRef] = []
            for target in targets:
                found += _symbol_in(target, rest, bindings, defined, depth)
            return sorted(set(found))
    found = []
    for target in bound.get("*", []):
        found += _symbol_in(Target("*", target.path, ""), parts, bindings, defined, depth)
    return sorted(set(found))


def _is_interface(facts: FileFacts, name: str) -> bool:
    symbol = facts.symbol(name)
    return symbol is not None and symbol.kind in ("interface", "trait")


def _local_name(name: str, local: dict[str, str]) -> list[SymbolRef]:
    """A name of the same package: ``helper``, ``Type`` or ``Type.Method``."""
    for candidate in (name, name.split(".", 1)[0]):
        path = local.get(candidate)
        if path is not None:
            return [(path, candidate)]
    return []


def _symbol_in(
    target: Target,
    rest: list[str],
    bindings: dict[str, Bindings],
    defined: dict[str, set[str]],
    depth: int,
) -> list[SymbolRef]:
    names = rest if target.member in ("", "*") else [target.member, *rest]
    if not names:
        # A module bound to a name and called (CommonJS ``const scan = require('./scan')``
        # then ``scan(...)``): the module's symbol of that name, if it has one.
        binding = target.binding
        return [(target.path, binding)] if binding in defined.get(target.path, set()) else []
    candidates = [".".join(names[:2]), names[0]] if len(names) > 1 else [names[0]]
    symbols = defined.get(target.path, set())
    for candidate in candidates:
        if candidate in symbols:
            return [(target.path, candidate)]
    if depth < _REEXPORT_DEPTH:
        # A package that re-exports a name (``from .app import Celery`` in __init__).
        return resolve_name(".".join(names), target.path, bindings, defined, depth + 1)
    return []


def _same_file_subclasses(graph: CodeGraph, path: str, facts: FileFacts) -> None:
    top = {s.name for s in facts.top_level()}
    for symbol in facts.symbols:
        for base in symbol.bases:
            if base in top and base != symbol.name:
                graph.subclasses.setdefault((path, base), set()).add((path, symbol.name))


def pagerank(graph: nx.DiGraph, damping: float = 0.85, rounds: int = 100) -> dict[str, float]:
    """Weighted PageRank by power iteration (networkx's needs scipy, absent here).

    A file many others depend on, directly or through central files, ranks high.
    """
    nodes = sorted(graph)
    if not nodes:
        return {}
    size = len(nodes)
    out_weight = {u: sum(d["weight"] for _, _, d in graph.out_edges(u, data=True)) for u in nodes}
    rank = dict.fromkeys(nodes, 1.0 / size)
    for _ in range(rounds):
        dangling = sum(rank[u] for u in nodes if out_weight[u] <= 0)
        base = (1.0 - damping) / size + damping * dangling / size
        new = dict.fromkeys(nodes, base)
        for u in nodes:
            if out_weight[u] > 0:
                share = damping * rank[u] / out_weight[u]
                for v, data in graph[u].items():
                    new[v] += share * data["weight"]
        delta = sum(abs(new[u] - rank[u]) for u in nodes)
        rank = new
        if delta < 1e-9:
            break
    return rank


def aggregate(graph: CodeGraph, group_of: dict[str, str]) -> nx.DiGraph:
    """Collapse the file graph onto groups (abstractions); edges merge their data."""
    grouped = nx.DiGraph()
    grouped.add_nodes_from(sorted(set(group_of.values())))
    for source, target, data in sorted(graph.files.edges(data=True), key=lambda e: e[:2]):
        a, b = group_of.get(source), group_of.get(target)
        if a is None or b is None or a == b:
            continue
        if not grouped.has_edge(a, b):
            grouped.add_edge(a, b, sites=[], names=defaultdict(set), files=set())
        merged = grouped.edges[a, b]
        merged["files"].add(source)
        for kind, lines in data["lines"].items():
            merged["sites"] += [(kind, source, line) for line in lines]
            merged["names"][kind] |= data["names"].get(kind, set())
    return grouped
