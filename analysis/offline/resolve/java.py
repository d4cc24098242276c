"""Java imports resolved by fully qualified class name and package."""

from __future__ import annotations

from collections import defaultdict

from analysis.offline.model import FileFacts, ImportRef
from analysis.offline.resolve.base import LanguageResolver, Target


class JavaResolver(LanguageResolver):
    def __init__(self, files: dict[str, FileFacts]) -> None:
        self._classes: dict[str, str] = {}
        self._packages: dict[str, list[str]] = defaultdict(list)
        self._members: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for path, facts in sorted(files.items()):
            if facts.language != "java":
                continue
            self._packages[facts.package].append(path)
            for symbol in facts.top_level():
                qualified = f"{facts.package}.{symbol.name}" if facts.package else symbol.name
                self._classes.setdefault(qualified, path)
                self._members[facts.package].append((symbol.name, path))

    def resolve(self, path: str, facts: FileFacts, imp: ImportRef) -> list[Target]:
        if imp.spec.endswith(".*"):
            package = imp.spec[:-2]
            found = [Target("*", f, "*") for f in self._packages.get(package, []) if f != path]
            if found:
                return found
            owner = self._classes.get(package)  # import static a.b.C.*
            return [Target("*", owner, "*")] if owner else []
        # Try the whole name, then shorter: a nested class or a static member's owner.
        parts = imp.spec.split(".")
        for cut in range(len(parts), 1, -1):
            owner = self._classes.get(".".join(parts[:cut]))
            if owner:
                member = ".".join(parts[cut - 1 :])  # "C" or, for a static member, "C.m"
                return [Target(b, owner, member) for b in sorted(imp.bindings)]
        return []

    def implicit(self, path: str, facts: FileFacts) -> list[Target]:
        return [
            Target(name, owner, name)
            for name, owner in self._members.get(facts.package, [])
            if owner != path
        ]
