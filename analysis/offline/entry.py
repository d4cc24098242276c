"""Where a user meets the project first, so that the course can start there.

In order of preference: the README's first example, the first of the project's own
examples, the command the build files declare, the default export of a JavaScript or
TypeScript package's main module, the type a Go package's exported constructor
returns, the package's main exported type (the public type other files use most), the
command line's ``main``. Step 1 looks for it among all its candidates, so that the course
has it even when it would not have been chosen on its score.

A name in an example stands for what the package hands out under it: ``axios`` for the
default export of its main module, ``Connection`` for the class ``amqp/__init__.py``
imports (not a table of constants of the same name elsewhere). An example that starts
with a variant of a family (``flag.BoolP`` of ``bool.go``) starts with the type the
family's members extend (pflag's ``FlagSet``).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.course.artifacts import Abstraction
from analysis.offline.graph import CodeGraph
from analysis.offline.languages import is_support_path
from analysis.offline.showcase import Showcase

_TYPE_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type"})
_ERRORS = ("Error", "Exception", "Warning", "Err")
MIN_TYPE_LINES = 5
_HUBS = ("__init__", "index", "mod", "lib")
_MAIN_MODULES = ("index", "main", "mod")
_FOLLOW_DEPTH = 3
_GO_CONSTRUCTOR = re.compile(r"^New[A-Z0-9_]\w*$")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Entry:
    abstraction_id: str
    name: str  # the public name the user meets
    reason: str  # one clause: "the README's first example (README.md:24) calls `command`"
    command: str = ""  # the console command the build files declare, when it is the entry


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
        if stem in _HUBS and not is_support_path(path):
            names |= {b for imp in facts.imports for b in imp.bindings if b != "*"}
            names |= set(facts.exports or [])
    return frozenset(names)


def handed_out(graph: CodeGraph, manifests: dict[str, str]) -> dict[str, str]:
    """Each name a package hands out, and the file that defines (or makes) it: the
    names its ``__init__`` (or index) imports, and its main module's default export."""
    out: dict[str, str] = {}
    for path, facts in sorted(graph.facts.items()):
        stem = posixpath.basename(path).split(".", 1)[0]
        if stem not in _HUBS or is_support_path(path):
            continue
        for imp in facts.imports:
            for local, member in sorted(imp.bindings.items()):
                if local == "*" or member == "default":
                    continue  # a default import is followed from the main module only
                found = _defined_through(graph, path, member or local, 0)
                if found is not None:
                    out.setdefault(local, found)
    main = main_module(graph, manifests)
    if main is not None and graph.facts[main].default_export:
        name = graph.facts[main].default_export
        out[name] = _default_source(graph, main, name, 0)
    return out


def _defined_through(graph: CodeGraph, path: str, name: str, depth: int) -> str | None:
    """The file that defines ``name``, imported by ``path`` (through re-exports)."""
    for target in sorted(graph.files.successors(path)) if path in graph.files else []:
        names = set().union(*graph.edge(path, target)["names"].values())
        if name not in names:
            continue
        found = str(target)
        if any(s.name == name for s in graph.facts[found].top_level()):
            return found
        if depth < _FOLLOW_DEPTH:
            return _defined_through(graph, found, name, depth + 1) or found
        return found
    return None


def main_module(graph: CodeGraph, manifests: dict[str, str]) -> str | None:
    """A JavaScript or TypeScript package's main module: package.json's ``main`` (or
    ``module``), else an ``index`` at the top, in ``src/`` or in ``lib/``."""
    for path in sorted(manifests, key=lambda p: (p.count("/"), p)):
        if posixpath.basename(path) != "package.json":
            continue
        try:
            data = json.loads(manifests[path])
        except ValueError:
            continue
        base = posixpath.dirname(path)
        for key in ("module", "main"):
            value = data.get(key) if isinstance(data, dict) else None
            if isinstance(value, str):
                found = posixpath.normpath(posixpath.join(base, value))
                for candidate in (found, f"{found}.js", f"{found}/index.js"):
                    if candidate in graph.facts:
                        return candidate
        break
    for folder in ("", "src/", "lib/", "source/"):
        for stem in _MAIN_MODULES:
            for suffix in (".ts", ".js", ".mjs", ".cjs", ".tsx"):
                if f"{folder}{stem}{suffix}" in graph.facts:
                    return f"{folder}{stem}{suffix}"
    return None


def _default_source(graph: CodeGraph, path: str, name: str, depth: int) -> str:
    """Where a default export comes from: ``import axios from './lib/axios.js'; export
    default axios`` leads to lib/axios.js, whose own default export is made there."""
    for imp in graph.facts[path].imports:
        member = imp.bindings.get(name)
        if member is None or depth >= _FOLLOW_DEPTH:
            continue
        for target in sorted(graph.files.successors(path)):
            lines = graph.edge(path, target)["lines"].get("imports", set())
            if imp.line in lines:
                inner = graph.facts[target].default_export if member == "default" else member
                return _default_source(graph, target, inner or name, depth + 1)
    return path


def entry_point(
    abstractions: Sequence[Abstraction],
    graph: CodeGraph,
    showcase: Showcase,
    project: str = "",
    manifests: dict[str, str] | None = None,
    families: frozenset[str] = frozenset(),
) -> Entry | None:
    """``families``: the ids of the abstractions that are families of variants."""
    manifests = manifests or {}
    holder = {f: a.id for a in abstractions for f in a.files}
    given = handed_out(graph, manifests)
    owner: dict[str, str] = {}
    for name, path in sorted(given.items()):
        held = holder.get(path) or _held_callee(graph, path, holder)
        if held is not None:
            owner[name] = held
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
            chosen = owner[name]
            if chosen in families:
                extended = _extended(abstractions, graph, chosen)
                if extended is not None:
                    chosen, name = extended
                    said += f", a variant of a family that extends `{name}`"
            return Entry(chosen, name, said)
    main = main_module(graph, manifests)
    default = graph.facts[main].default_export if main is not None else ""
    return (
        _declared_command(abstractions, graph, showcase)
        or (_default_export(default, owner, main) if main is not None and default else None)
        or _constructed_type(abstractions, graph)
        or _main_type(abstractions, graph, project)
        or _main_function(abstractions, graph)
    )


def _held_callee(graph: CodeGraph, path: str, holder: dict[str, str]) -> str | None:
    """A file no chapter holds (an index that only makes its default export) is taught
    by the chapter of what it calls first."""
    if path not in graph.files:
        return None
    found: list[tuple[bool, int, str]] = []
    for target in graph.files.successors(path):
        lines = graph.edge(path, target)["lines"]
        if target in holder:
            # Calls first (what makes the object), then any other dependency.
            kind = "calls" if "calls" in lines else min(lines)
            found.append((kind != "calls", min(lines[kind]), str(target)))
    return holder[min(found)[2]] if found else None


def _default_export(name: str, owner: dict[str, str], main: str) -> Entry | None:
    if name not in owner:
        return None
    return Entry(owner[name], name, f"`{name}` is the default export of its main module `{main}`")


def _extended(
    abstractions: Sequence[Abstraction], graph: CodeGraph, family_id: str
) -> tuple[str, str] | None:
    """The type a family's members add methods to, defined outside the family, and the
    abstraction that holds it."""
    family = next(a for a in abstractions if a.id == family_id)
    members = set(family.files)
    receivers: Counter[str] = Counter()
    for path in family.files:
        for symbol in graph.facts[path].symbols if path in graph.facts else []:
            if symbol.kind == "method" and "." in symbol.name:
                receivers[symbol.name.split(".", 1)[0]] += 1
    defined: dict[str, str] = {}
    for abstraction in abstractions:
        for path in abstraction.files:
            if path in members or path not in graph.facts:
                continue
            for symbol in graph.facts[path].top_level():
                if symbol.kind in _TYPE_KINDS:
                    defined.setdefault(symbol.name, abstraction.id)
    ranked = sorted((r for r in receivers if r in defined), key=lambda r: (-receivers[r], r))
    return (defined[ranked[0]], ranked[0]) if ranked else None


def _constructed_type(abstractions: Sequence[Abstraction], graph: CodeGraph) -> Entry | None:
    """A Go package's exported constructor (``NewFlagSet``) and the type it returns; of
    several, the one whose type the most files use."""
    defined: dict[str, str] = {}
    for abstraction in abstractions:
        for path in abstraction.files:
            for symbol in graph.facts[path].top_level() if path in graph.facts else []:
                if symbol.kind in _TYPE_KINDS and symbol.public:
                    defined.setdefault(symbol.name, abstraction.id)
    users: Counter[str] = Counter()
    for _, _, data in graph.files.edges(data=True):
        for names in data["names"].values():
            users.update({n.split(".", 1)[0] for n in names})
    best: tuple[int, str, str, str] | None = None
    for abstraction in abstractions:
        for path in abstraction.files:
            facts = graph.facts.get(path)
            if facts is None or facts.language != "go":
                continue
            for symbol in facts.top_level():
                if symbol.kind != "function" or not _GO_CONSTRUCTOR.match(symbol.name):
                    continue
                returned = symbol.signature.rsplit(")", 1)[-1] if ")" in symbol.signature else ""
                found = [n for n in _IDENTIFIER.findall(returned) if n in defined]
                if found:
                    key = (-users[found[0]], found[0], symbol.name, defined[found[0]])
                    best = key if best is None or key < best else best
    if best is None:
        return None
    _, name, constructor, abstraction_id = best
    return Entry(abstraction_id, name, f"its exported constructor `{constructor}` returns `{name}`")


def _declared_command(
    abstractions: Sequence[Abstraction], graph: CodeGraph, showcase: Showcase
) -> Entry | None:
    """The command the build files declare (an application's front door)."""
    path_of = {module: path for path, module in sorted(graph.module_names.items())}
    for command, target, function in showcase.commands:
        path = path_of.get(target, target)
        for abstraction in abstractions:
            if path in abstraction.files:
                name = function or "main"
                return Entry(
                    abstraction.id,
                    name,
                    f"its users start at the `{command}` command, which its build file "
                    f"declares and `{name}` in `{path}` implements",
                    command=command,
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
