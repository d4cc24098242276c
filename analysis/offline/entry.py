"""Where a user meets the project first, so that the course can start there.

In order of preference: the README's first example, the first of the project's own
examples, the package's main exported type (the public type other files use most), the
command line's ``main``. Only the concepts chosen for the course are candidates.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.course.artifacts import Abstraction
from analysis.offline.graph import CodeGraph
from analysis.offline.languages import is_support_path
from analysis.offline.showcase import Showcase

_TYPE_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type"})
_ERRORS = ("Error", "Exception", "Warning", "Err")
MIN_TYPE_LINES = 5


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


def exported_names(graph: CodeGraph) -> frozenset[str]:
    """Names a package hands its users: bound in a Python ``__init__`` or a JS/TS index,
    or listed in ``__all__``."""
    names: set[str] = set()
    for path, facts in graph.facts.items():
        stem = posixpath.basename(path).split(".", 1)[0]
        if stem in ("__init__", "index", "mod", "lib") and not is_support_path(path):
            names |= {b for imp in facts.imports for b in imp.bindings if b != "*"}
            names |= set(facts.exports or [])
    return frozenset(names)


def entry_point(
    abstractions: Sequence[Abstraction], graph: CodeGraph, showcase: Showcase, project: str = ""
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
    return (
        _declared_command(abstractions, graph, showcase)
        or _main_type(abstractions, graph, project)
        or _main_function(abstractions, graph)
    )


def _declared_command(
    abstractions: Sequence[Abstraction], graph: CodeGraph, showcase: Showcase
) -> Entry | None:
    """The command the build files declare (an application's front door)."""
    path_of = {module: path for path, module in sorted(graph.module_names.items())}
    for target, function in showcase.commands:
        path = path_of.get(target, target)
        for abstraction in abstractions:
            if path in abstraction.files:
                name = function or "main"
                return Entry(
                    abstraction.id,
                    name,
                    f"its command line starts at `{name}` in `{path}`, as its build file declares",
                )
    return None


def _main_type(abstractions: Sequence[Abstraction], graph: CodeGraph, project: str) -> Entry | None:
    """The package's main type: named like the project (``Celery``), else exported by
    the package, else used by the most files; substantial (methods or a body), and not
    an error (errors are met when things fail, not first)."""
    exported = exported_names(graph)
    users: dict[tuple[str, str], set[str]] = {}
    for source, target, data in graph.files.edges(data=True):
        for names in data["names"].values():
            for name in names:
                users.setdefault((target, name.split(".", 1)[0]), set()).add(source)
    best: tuple[tuple[bool, bool, int], str, str] | None = None
    for abstraction in abstractions:
        for path in abstraction.files:
            for symbol in graph.facts[path].top_level() if path in graph.facts else []:
                if (
                    not symbol.public
                    or symbol.kind not in _TYPE_KINDS
                    or symbol.end - symbol.start < MIN_TYPE_LINES
                    or symbol.name.endswith(_ERRORS)
                ):
                    continue
                key = (
                    _plain(symbol.name) == _plain(project),
                    symbol.name in exported,
                    len(users.get((path, symbol.name), set())),
                )
                if best is None or key > best[0]:
                    best = (key, symbol.name, abstraction.id)
    if best is None or best[0] == (False, False, 0):
        return None
    (_, _, count), name, abstraction_id = best
    return Entry(
        abstraction_id, name, f"`{name}` is its main exported type (used by {count} files)"
    )


def _plain(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _main_function(abstractions: Sequence[Abstraction], graph: CodeGraph) -> Entry | None:
    for abstraction in abstractions:
        for path in abstraction.files:
            if path in graph.facts and graph.facts[path].symbol("main") is not None:
                return Entry(
                    abstraction.id, "main", f"the command line starts at `main` in `{path}`"
                )
    return None
