"""Families: files that repeat one pattern become one candidate, so one chapter.

A family shows in two ways. By shape: files of one folder that each define the same
names with their own word in them, typed variants (``bool.go`` holds ``boolValue``,
``BoolVar`` and ``GetBool``, ``int.go`` holds ``intValue``, ``IntVar`` and ``GetInt``)
or one implementation per format (``GenBashCompletion`` in ``bash_completions.go``,
``GenZshCompletion`` in ``zsh_completions.go``). Such a family is named after its
pattern and lists its members. By name: siblings that share a prefix with the file
named like the family (``flag.go``, ``flag_int.go``; ``termui.py``,
``_termui_impl.py``), taught as the lead file's concept; a sibling by name of a
family found by shape joins it (``bash_completionsV2.go``).
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter, defaultdict

from analysis.offline.graph import CodeGraph
from analysis.offline.touch import TYPE_KINDS
from analysis.offline.units import Unit

MIN_SHARED = 2  # templated names two members of a family share
MIN_MEMBERS = 3
MIN_OVERLAP = 0.34  # shared names over all the names of the two
MAX_HOLDERS = 200
_PREFIX = re.compile(r"^_*([A-Za-z0-9]+)")
_TOKENS = re.compile(r"[_\-.]+")
LISTED_MEMBERS = 3  # members named in the family's title


def merge_families(units: list[Unit], graph: CodeGraph) -> list[Unit]:
    return merge_by_prefix(merge_by_shape(units, graph))


def _keys(path: str) -> list[str]:
    """The words of a file's stem that its names may carry, longest first."""
    stem = posixpath.basename(path).split(".", 1)[0].lstrip("_")
    tokens = [t.lower() for t in _TOKENS.split(stem) if t]
    keys = {"".join(tokens)} | {t for t in tokens if len(t) >= 3}
    keys |= {k[:-1] for k in keys if k.endswith("s") and len(k) > 3}
    return sorted((k for k in keys if len(k) >= 2), key=lambda k: (-len(k), k))


def templates(path: str, graph: CodeGraph) -> tuple[frozenset[str], frozenset[str]]:
    """The file's names with its own word replaced by ``{}`` (``IntVar`` -> ``{}var``),
    and those of them that are types."""
    keys = _keys(path)
    names: set[str] = set()
    types: set[str] = set()
    for symbol in graph.facts[path].symbols if path in graph.facts else []:
        last = symbol.name.rsplit(".", 1)[-1].lower()
        for key in keys:
            if key in last:
                template = last.replace(key, "{}", 1)
                names.add(template)
                if symbol.kind in TYPE_KINDS:
                    types.add(template)
                break
    return frozenset(names), frozenset(types)


def merge_by_shape(units: list[Unit], graph: CodeGraph) -> list[Unit]:
    singles: dict[tuple[str, str], list[Unit]] = defaultdict(list)
    out: list[Unit] = []
    for unit in units:
        if unit.is_dir or len(unit.files) != 1 or unit.path not in graph.facts:
            out.append(unit)
        else:
            folder, name = posixpath.split(unit.path)
            singles[(folder, posixpath.splitext(name)[1])].append(unit)
    for members in singles.values():
        groups = _shape_groups(members, graph)
        families = [g for g in groups if len(g) >= MIN_MEMBERS]
        rest = [u for g in groups if len(g) < MIN_MEMBERS for u in g]
        for family in families:
            joining = [u for u in rest if _same_type_pattern(u, family, graph)]
            rest = [u for u in rest if u not in joining]
            out.append(_family(sorted(family + joining, key=lambda u: u.path), graph))
        out += rest
    return sorted(out, key=lambda u: u.path)


def _type_pattern(group: list[Unit], graph: CodeGraph) -> str:
    """The most common type template of a family's members (``{}value``)."""
    counts: Counter[str] = Counter(t for u in group for t in templates(u.path, graph)[1])
    return min(counts, key=lambda t: (-counts[t], t)) if counts else ""


def _same_type_pattern(unit: Unit, family: list[Unit], graph: CodeGraph) -> bool:
    """A file of its own shape whose types follow the family's type pattern:
    ``bytes.go`` with ``bytesHexValue`` and ``bytesBase64Value`` beside ``intValue``."""
    pattern = _type_pattern(family, graph)
    if not pattern.startswith("{}") or len(pattern) <= 2:
        return False
    names, types = templates(unit.path, graph)
    tail = pattern[2:]
    return len(names) >= MIN_SHARED and any(t.startswith("{}") and t.endswith(tail) for t in types)


def _shape_groups(members: list[Unit], graph: CodeGraph) -> list[list[Unit]]:
    """Connected groups of files that share enough templated names."""
    shapes = {u.path: templates(u.path, graph)[0] for u in members}
    holders: dict[str, list[str]] = defaultdict(list)
    for path, names in sorted(shapes.items()):
        for name in names:
            holders[name].append(path)
    parent = {u.path: u.path for u in members}

    def root(path: str) -> str:
        while parent[path] != path:
            parent[path] = parent[parent[path]]
            path = parent[path]
        return path

    shared: Counter[tuple[str, str]] = Counter()
    for paths in holders.values():
        if len(paths) <= MAX_HOLDERS:  # a name every file has says nothing
            for i, a in enumerate(paths):
                for b in paths[i + 1 :]:
                    shared[(a, b)] += 1
    for (a, b), count in sorted(shared.items()):
        if count >= MIN_SHARED and count >= MIN_OVERLAP * len(shapes[a] | shapes[b]):
            parent[root(a)] = root(b)
    groups: dict[str, list[Unit]] = defaultdict(list)
    for unit in members:
        groups[root(unit.path)].append(unit)
    return [sorted(g, key=lambda u: u.path) for _, g in sorted(groups.items())]


def _family(group: list[Unit], graph: CodeGraph) -> Unit:
    stems = [posixpath.basename(u.path).split(".", 1)[0] for u in group]
    common = set.intersection(*(set(t.lower() for t in _TOKENS.split(s) if t) for s in stems))
    if common:
        label = max(common, key=lambda t: (len(t), t))
        members = [_member(s, label) for s in stems]
    else:
        label = _cased_label(group, graph, _type_pattern(group, graph)) or "variant"
        members = stems
    files = tuple(sorted(f for u in group for f in u.files))
    return Unit(group[0].path, False, files, sum(u.lines for u in group), (label, *members))


def _cased_label(group: list[Unit], graph: CodeGraph, pattern: str) -> str:
    """The type pattern as the code spells it: ``{}value`` from ``boolValue`` is ``Value``."""
    for unit in group:
        keys = _keys(unit.path)
        for symbol in graph.facts[unit.path].top_level():
            low = symbol.name.lower()
            key = next((k for k in keys if k in low), None)
            if key is not None and low.replace(key, "{}", 1) == pattern:
                at = low.index(key)
                return (symbol.name[:at] + symbol.name[at + len(key) :]).strip("_")
    return pattern.replace("{}", "").strip("_")


def _member(stem: str, label: str) -> str:
    parts = [t for t in _TOKENS.split(stem) if t and t.lower() != label]
    return "_".join(parts) or stem


def family_title(family: tuple[str, ...]) -> str:
    """``Value variants (bool, bool_slice, bytes and 23 more)``."""
    label, members = family[0], family[1:]
    shown = ", ".join(members[:LISTED_MEMBERS])
    more = len(members) - LISTED_MEMBERS
    listed = f"{shown} and {more} more" if more > 0 else shown
    return f"{label[:1].upper()}{label[1:]} variants ({listed})"


def merge_by_prefix(units: list[Unit]) -> list[Unit]:
    """Sibling modules of one family by name become one candidate, led by the file
    named like the family; a sibling of a member of a family by shape joins it."""
    families: dict[tuple[str, str, str], list[Unit]] = defaultdict(list)
    shaped: dict[tuple[str, str, str], Unit] = {}
    for unit in units:
        if unit.family:
            for path in unit.files:
                key = _prefix_key(path)
                if key is not None:
                    shaped.setdefault(key, unit)
    out: list[Unit] = []
    for unit in units:
        key = None if unit.is_dir or unit.family else _prefix_key(unit.path)
        if key is None:
            out.append(unit)
        else:
            families[key].append(unit)
    joined: dict[str, list[Unit]] = defaultdict(list)
    for key, members in families.items():
        if key in shaped:
            joined[shaped[key].path] += members
            continue
        if len(members) == 1:
            out += members
            continue
        (_, family, suffix) = key
        lead = next(
            (u for u in members if posixpath.basename(u.path) == family + suffix), members[0]
        )
        files = tuple(sorted(f for u in members for f in u.files))
        out.append(Unit(lead.path, False, files, sum(u.lines for u in members)))
    if joined:
        out = [_joined(u, joined[u.path]) if u.path in joined else u for u in out]
    return sorted(out, key=lambda u: u.path)


def _prefix_key(path: str) -> tuple[str, str, str] | None:
    name = posixpath.basename(path)
    match = _PREFIX.match(name)
    if match is None:
        return None
    return (posixpath.dirname(path), match.group(1).lower(), posixpath.splitext(name)[1])


def _joined(unit: Unit, extra: list[Unit]) -> Unit:
    files = tuple(sorted({*unit.files, *(f for u in extra for f in u.files)}))
    members = [*unit.family[1:]]
    members += [posixpath.basename(u.path).split(".", 1)[0] for u in extra]
    lines = unit.lines + sum(u.lines for u in extra)
    return Unit(unit.path, False, files, lines, (unit.family[0], *members))
