"""JavaScript and TypeScript relative imports: extension and ``index`` resolution."""

from __future__ import annotations

import posixpath

from analysis.offline.model import FileFacts, ImportRef
from analysis.offline.resolve.base import LanguageResolver, Target

_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
# Node resolves a JavaScript file's import to JavaScript, not to its declarations (a
# compiled package ships create.js beside create.d.ts).
_JS_EXTENSIONS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".d.ts", ".mts", ".cts")
# TypeScript's ESM style names the emitted file: "./x.js" means ./x.ts.
_EMITTED = {".js": (".ts", ".tsx"), ".mjs": (".mts",), ".cjs": (".cts",), ".jsx": (".tsx",)}


class JavaScriptResolver(LanguageResolver):
    def __init__(self, paths: list[str]) -> None:
        self._paths = set(paths)

    def resolve(self, path: str, facts: FileFacts, imp: ImportRef) -> list[Target]:
        if not imp.spec.startswith((".", "/")):
            return []  # a package from the registry, not a file of this checkout
        base = posixpath.normpath(posixpath.join(posixpath.dirname(path), imp.spec))
        if base.startswith("../") or base == "..":
            return []
        javascript = posixpath.splitext(path)[1] in (".js", ".jsx", ".mjs", ".cjs")
        found = self._file(base.lstrip("/"), _JS_EXTENSIONS if javascript else _EXTENSIONS)
        if found is None:
            return []
        if not imp.bindings:
            return [Target("", found, "")]
        return [Target(b, found, m) for b, m in sorted(imp.bindings.items())]

    def _file(self, base: str, extensions: tuple[str, ...]) -> str | None:
        stem, ext = posixpath.splitext(base)
        candidates = [base] if ext else []
        candidates += [stem + alt for alt in _EMITTED.get(ext, ())]
        candidates += [base + e for e in extensions]
        candidates += [posixpath.join(base, "index" + e) for e in extensions]
        return next((c for c in candidates if c in self._paths), None)
