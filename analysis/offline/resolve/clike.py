"""C and C++ ``#include`` resolved next to the including file, then on include paths.

Include paths are guessed as a build file would set them: directories named
``include``, ``src`` and the checkout root; a unique path suffix match is the last
resort for quoted includes.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict

from analysis.offline.model import FileFacts, ImportRef
from analysis.offline.resolve.base import LanguageResolver, Target


class CResolver(LanguageResolver):
    def __init__(self, paths: list[str]) -> None:
        self._paths = set(paths)
        dirs = {posixpath.dirname(p) for p in paths}
        self._include_dirs = sorted(
            {""} | {d for d in dirs if posixpath.basename(d) in ("include", "inc", "src")}
        )
        self._by_name: dict[str, list[str]] = defaultdict(list)
        for path in sorted(paths):
            self._by_name[posixpath.basename(path)].append(path)

    def resolve(self, path: str, facts: FileFacts, imp: ImportRef) -> list[Target]:
        system = imp.spec.startswith("<")
        name = imp.spec.strip("<>")
        found = self._find(path, name, system)
        return [Target("*", found, "*")] if found and found != path else []

    def _find(self, path: str, name: str, system: bool) -> str | None:
        candidates = [] if system else [posixpath.join(posixpath.dirname(path), name)]
        candidates += [posixpath.join(d, name) for d in self._include_dirs]
        for candidate in candidates:
            normal = posixpath.normpath(candidate)
            if normal in self._paths:
                return normal
        if system and "/" not in name:
            return None  # <stdio.h>: a library header, even if a file shares its name
        suffix = [p for p in self._by_name.get(posixpath.basename(name), []) if p.endswith(name)]
        return suffix[0] if len(suffix) == 1 else None
