"""Plumbing: the modules a user of a library never asks about, and the topics a user names.

Utilities, helpers and compatibility shims (by their file or folder name), typing
helpers, constants, type guards (``isCancel``), and warning or deprecation classes are
read through the chapters that use them, never taught as chapters of their own, unless
the README makes them a topic: one of its headings (or a documentation page's title)
names the module or one of its public names ("FormData" names ``toFormData``). A
utilities module whose names the README's or the examples' code uses (``click.echo``
lives in ``click/utils.py``) is what users call, so it is no plumbing either.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence

from analysis.offline.graph import CodeGraph
from analysis.offline.model import Symbol
from analysis.offline.units import Unit

# Plumbing by name: saved by a heading, or by the README's and examples' code.
_HELPER_STEMS = frozenset(
    {"utils", "util", "utilities", "helpers", "helper", "compat", "misc", "shims"}
)
_HELPER_DIRS = frozenset({"utils", "util", "utilities", "helpers", "helper", "compat"})
# Plumbing by kind: saved only by a heading.
_KIND_STEMS = frozenset(
    {
        *("typing", "typings", "typing_compat", "type_guards", "typeguards", "guards"),
        *("constants", "consts", "const", "warnings", "deprecation", "deprecations"),
    }
)
_NAMELESS = frozenset({"default", "main", "index"})
_TYPING_BASES = frozenset({"TypedDict", "Protocol", "NamedTuple", "TypeAlias"})
_GUARD_FILE = re.compile(r"^(is|has)([A-Z]|[-_][a-z])")  # isCancel.js, is-form-data.js
_TYPE_GUARD = re.compile(r"^(is|has)([A-Z_]|_)")
_WARNING = re.compile(r"(Warning|Deprecation)$")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# Heading words that name no part of the code.
_STOPWORDS = frozenset(
    {
        *("the", "and", "for", "with", "from", "into", "your", "our", "its", "how", "what"),
        *("using", "use", "usage", "handling", "creating", "create", "working", "getting"),
        *("writing", "reading", "making", "generating", "example", "quick", "start"),
        *("install", "installing", "installation", "license", "contributing", "changelog"),
        *("feature", "support", "overview", "introduction", "about", "table", "content"),
        *("deprecated", "deprecation", "new", "older", "version", "more", "other", "api"),
        *("documentation", "doc", "faq", "note", "tutorial", "guide", "format"),
        *("warning", "important", "tip", "caution", "danger", "experimental", "required"),
    }
)


def words(name: str) -> frozenset[str]:
    """The words of an identifier, a file stem or a heading, lower case, singular."""
    out: set[str] = set()
    for part in re.split(r"[^A-Za-z0-9]+", name):
        for word in _WORDS.findall(part):
            low = word.lower()
            if len(low) > 3 and low.endswith("s") and not low.endswith("ss"):
                low = low[:-1]
            out.add(low)
    return frozenset(out)


def topics(headings: Iterable[str], project: str) -> list[frozenset[str]]:
    """What each heading names, less the words that name no code (and the project)."""
    ignored = _STOPWORDS | words(project)
    found: list[frozenset[str]] = []
    for heading in headings:
        kept = frozenset(w for w in words(heading) if len(w) > 2 and w not in ignored)
        if kept and kept not in found:
            found.append(kept)
    return found


def _public(path: str, graph: CodeGraph) -> list[Symbol]:
    """Its public top-level names, less those no user says (a CommonJS ``default``)."""
    facts = graph.facts.get(path)
    if facts is None:
        return []
    return [
        s for s in facts.top_level() if s.public and s.kind != "impl" and s.name not in _NAMELESS
    ]


def _raw_stem(path: str) -> str:
    return posixpath.basename(path).split(".", 1)[0].lstrip("_")


def _stem(path: str) -> str:
    return posixpath.basename(path).split(".", 1)[0].lstrip("_").lower().replace("-", "_")


def names(topic: frozenset[str], candidate: frozenset[str]) -> bool:
    """The topic is most of the name: all its words are the name's, and they are more
    than half of them ("FormData" names ``toFormData``; "Response" does not name
    ``isResponseOk``)."""
    return bool(topic) and topic <= candidate and 2 * len(topic) > len(candidate)


def named_by(path: str, graph: CodeGraph, named: Sequence[frozenset[str]]) -> bool:
    """A heading names the file or one of its public names."""
    if not named:
        return False
    candidates = [words(_stem(path))] + [words(s.name) for s in _public(path, graph)]
    return any(names(topic, candidate) for topic in named for candidate in candidates)


def kind_of_plumbing(path: str, graph: CodeGraph) -> str:
    """Why a file is plumbing by what it holds, or ""."""
    stem = _stem(path)
    if stem in _KIND_STEMS or "deprecat" in stem or _GUARD_FILE.match(_raw_stem(path)):
        return "kind"
    symbols = _public(path, graph)
    if not symbols:
        return ""
    if all(_is_warning(s) for s in symbols):
        return "kind"
    if all(s.kind == "function" and _TYPE_GUARD.match(s.name) for s in symbols):
        return "kind"
    if _constant_namespaces(path, graph, symbols) or _typing_only(path, graph, symbols):
        return "kind"
    return ""


def _typing_only(path: str, graph: CodeGraph, symbols: list[Symbol]) -> bool:
    """Typing helpers: Python ``TypedDict``s and ``Protocol``s (beside at most one
    function), a TypeScript module of type aliases and interfaces only."""
    language = graph.facts[path].language
    if language in ("typescript", "tsx"):
        return all(s.kind in ("type", "interface") for s in symbols)
    if language != "python":
        return False
    classes = [s for s in symbols if s.kind == "class"]
    others = [s for s in symbols if s.kind != "class"]
    typing = [c for c in classes if any(b.rsplit(".", 1)[-1] in _TYPING_BASES for b in c.bases)]
    return bool(classes) and len(typing) == len(classes) and len(others) <= 1


def _is_warning(symbol: Symbol) -> bool:
    return symbol.kind == "class" and (
        bool(_WARNING.search(symbol.name)) or any(_WARNING.search(b) for b in symbol.bases)
    )


def _constant_namespaces(path: str, graph: CodeGraph, symbols: list[Symbol]) -> bool:
    """Classes used as tables of constants (``class Channel: Open = (20, 10)``): no
    methods, no bases, beside at most one function."""
    classes = [s for s in symbols if s.kind == "class"]
    functions = [s for s in symbols if s.kind == "function"]
    if len(classes) < 2 or len(functions) > 1 or len(classes) + len(functions) < len(symbols):
        return False
    methods = {s.name.split(".", 1)[0] for s in graph.facts[path].symbols if "." in s.name}
    return all(not c.bases and c.name not in methods for c in classes)


def helper_by_name(path: str, unit: Unit) -> bool:
    return _helper_stem(_stem(path)) or helper_folder(path, unit)


def _helper_stem(stem: str) -> bool:
    """``utils``, ``_compat``, ``contract_utils``, ``string-helpers``."""
    return stem in _HELPER_STEMS or stem.rsplit("_", 1)[-1] in _HELPER_STEMS - {"misc"}


def helper_folder(path: str, unit: Unit) -> bool:
    folders = posixpath.dirname(path).split("/")
    inside = unit.path.split("/") if unit.is_dir else folders
    # A helpers folder inside the unit, or the unit itself: ``lib/helpers``, ``core/utils``.
    return any(f in _HELPER_DIRS for f in folders[max(0, len(inside) - 1) :])


def strip_plumbing(
    units: list[Unit],
    graph: CodeGraph,
    named: Sequence[frozenset[str]],
    shown: frozenset[str],
) -> list[Unit]:
    """Each unit less its plumbing files; a unit left with none is dropped. ``named``
    are the README's topics, ``shown`` the names its code and the examples use (a name
    that is also a method's says nothing: ``spec.match_files`` is ``PathSpec``'s)."""
    methods = {
        s.name.rsplit(".", 1)[-1] for f in graph.facts.values() for s in f.symbols if "." in s.name
    }
    shown = frozenset(shown - methods)
    out: list[Unit] = []
    for unit in units:
        kept = tuple(f for f in unit.files if not is_plumbing(f, unit, graph, named, shown))
        if len(kept) == len(unit.files):
            out.append(unit)
        elif kept:
            lines = sum(graph.facts[f].lines for f in kept if f in graph.facts)
            out.append(Unit(unit.path, unit.is_dir, kept, lines, unit.family))
    return out


def is_plumbing(
    path: str,
    unit: Unit,
    graph: CodeGraph,
    named: Sequence[frozenset[str]],
    shown: frozenset[str],
) -> bool:
    """A file in a helpers folder is the project's own word that it helps: only the
    README's or the examples' code, calling it, says otherwise. Other plumbing is a
    topic when a heading names it."""
    kind = kind_of_plumbing(path, graph)
    in_helpers = helper_folder(path, unit)
    if not kind and not in_helpers and not _helper_stem(_stem(path)):
        return False
    if not in_helpers and named_by(path, graph, named):
        return False
    if kind:
        return True
    return not any(s.name in shown for s in _public(path, graph))
