"""Where a user meets the project first, so that the course can start there.

In order of preference: the README's first example, the first of the project's own
examples, the package's main exported type (the public type other files use most), the
command line's ``main``. Only the concepts chosen for the course are candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tasks.artifacts import Abstraction
from tasks.engines.offline.graph import CodeGraph
from tasks.engines.offline.showcase import Showcase

_TYPE_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type"})


@dataclass(frozen=True)
class Entry:
    abstraction_id: str
    name: str  # the public name the user meets
    reason: str  # one clause: "the README's first example (README.md:24) calls `command`"


def public_names(abstraction: Abstraction, graph: CodeGraph) -> set[str]:
    return {
        s.name
        for path in abstraction.files
        if path in graph.facts
        for s in graph.facts[path].top_level()
        if s.public
    }


def entry_point(
    abstractions: Sequence[Abstraction], graph: CodeGraph, showcase: Showcase
) -> Entry | None:
    owner: dict[str, str] = {}
    for abstraction in abstractions:
        for name in sorted(public_names(abstraction, graph)):
            owner.setdefault(name, abstraction.id)
    for origin in ("readme", "example"):
        shown = Showcase([s for s in showcase.snippets if s.origin == origin])
        found = shown.first_use(set(owner))
        if found is not None:
            snippet, name = found
            where = f"{snippet.path}:{snippet.start}"
            said = (
                f"the README's first example ({where}) uses `{name}`"
                if origin == "readme"
                else f"the project's first example ({where}) uses `{name}`"
            )
            return Entry(owner[name], name, said)
    return _main_type(abstractions, graph) or _main_function(abstractions, graph)


def _main_type(abstractions: Sequence[Abstraction], graph: CodeGraph) -> Entry | None:
    best: tuple[int, str, str] | None = None
    for abstraction in abstractions:
        for path in abstraction.files:
            for symbol in graph.facts[path].top_level() if path in graph.facts else []:
                if not symbol.public or symbol.kind not in _TYPE_KINDS:
                    continue
                users = len(
                    [u for u in graph.files.predecessors(path) if u != path]
                    if path in graph.files
                    else []
                )
                key = (users, symbol.name, abstraction.id)
                if best is None or key[0] > best[0]:
                    best = key
    if best is None or best[0] == 0:
        return None
    users, name, abstraction_id = best
    return Entry(
        abstraction_id, name, f"`{name}` is its main exported type (used by {users} files)"
    )


def _main_function(abstractions: Sequence[Abstraction], graph: CodeGraph) -> Entry | None:
    for abstraction in abstractions:
        for path in abstraction.files:
            if path in graph.facts and graph.facts[path].symbol("main") is not None:
                return Entry(
                    abstraction.id, "main", f"the command line starts at `main` in `{path}`"
                )
    return None
