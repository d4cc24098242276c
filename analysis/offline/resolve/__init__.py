"""Import resolution for every language, behind one call."""

from __future__ import annotations

from analysis.offline.model import FileFacts
from analysis.offline.resolve.base import LanguageResolver, Target
from analysis.offline.resolve.clike import CResolver
from analysis.offline.resolve.golang import GoResolver
from analysis.offline.resolve.java import JavaResolver
from analysis.offline.resolve.javascript import JavaScriptResolver
from analysis.offline.resolve.python import PythonResolver
from analysis.offline.resolve.rust import RustResolver

_FAMILY = {
    "python": "python",
    "javascript": "js",
    "typescript": "js",
    "tsx": "js",
    "go": "go",
    "java": "java",
    "rust": "rust",
    "c": "c",
    "cpp": "c",
}


class Resolvers:
    """Builds one resolver per language family present in the checkout."""

    def __init__(self, files: dict[str, FileFacts], manifests: dict[str, str]) -> None:
        by_family: dict[str, list[str]] = {}
        for path, facts in files.items():
            by_family.setdefault(_FAMILY.get(facts.language, ""), []).append(path)
        self._resolvers: dict[str, LanguageResolver] = {}
        self.python: PythonResolver | None = None
        if "python" in by_family:
            self.python = PythonResolver(by_family["python"])
            self._resolvers["python"] = self.python
        if "js" in by_family:
            self._resolvers["js"] = JavaScriptResolver(by_family["js"])
        if "go" in by_family:
            self._resolvers["go"] = GoResolver(by_family["go"], manifests)
        if "java" in by_family:
            self._resolvers["java"] = JavaResolver(files)
        if "rust" in by_family:
            self._resolvers["rust"] = RustResolver(by_family["rust"])
        if "c" in by_family:
            self._resolvers["c"] = CResolver(by_family["c"])

    def targets(self, path: str, facts: FileFacts) -> list[tuple[int, list[Target]]]:
        """Each import's line with the targets it reaches (unresolved ones left out)."""
        resolver = self._resolvers.get(_FAMILY.get(facts.language, ""))
        if resolver is None:
            return []
        out: list[tuple[int, list[Target]]] = []
        for imp in facts.imports:
            found = [t for t in resolver.resolve(path, facts, imp) if t.path != path]
            if found:
                out.append((imp.line, found))
        implicit = resolver.implicit(path, facts)
        if implicit:
            out.append((0, implicit))
        return out


__all__ = ["Resolvers", "Target"]
