"""Go import paths resolved to package directories through ``go.mod`` module paths."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict

from analysis.offline.model import FileFacts, ImportRef
from analysis.offline.resolve.base import LanguageResolver, Target

_MODULE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)


class GoResolver(LanguageResolver):
    def __init__(self, paths: list[str], manifests: dict[str, str]) -> None:
        self._packages: dict[str, list[str]] = defaultdict(list)
        for path in sorted(paths):
            if not path.endswith("_test.go"):
                self._packages[posixpath.dirname(path)].append(path)
        # Longest module path first, so nested modules win over their parents.
        modules: list[tuple[str, str]] = []
        for manifest, text in manifests.items():
            match = _MODULE.search(text)
            if posixpath.basename(manifest) == "go.mod" and match:
                modules.append((match.group(1).strip('"'), posixpath.dirname(manifest)))
        self._modules = sorted(modules, key=lambda m: (-len(m[0]), m))

    def resolve(self, path: str, facts: FileFacts, imp: ImportRef) -> list[Target]:
        directory = self._directory(imp.spec)
        if directory is None:
            return []
        files = [f for f in self._packages.get(directory, []) if f != path]
        if not imp.bindings:
            return [Target("", f, "") for f in files]
        binding, member = next(iter(sorted(imp.bindings.items())))
        return [Target(binding, f, member) for f in files]

    def _directory(self, import_path: str) -> str | None:
        for module, root in self._modules:
            if import_path == module or import_path.startswith(module + "/"):
                rest = import_path[len(module) :].lstrip("/")
                return posixpath.join(root, rest).strip("/") if rest or root else ""
        return None
