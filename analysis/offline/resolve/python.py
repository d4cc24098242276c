"""Python imports, absolute and relative, resolved to modules of the checkout.

A module's name comes from its package root: the parent of the top-most directory that
still has an ``__init__.py``. Paths from the checkout root (and below ``src/``) are a
fallback for namespace packages and scripts run from the root.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from analysis.offline.model import FileFacts, ImportRef
from analysis.offline.resolve.base import LanguageResolver, Target


class PythonResolver(LanguageResolver):
    def __init__(self, paths: list[str]) -> None:
        python = sorted(p for p in paths if p.endswith((".py", ".pyi")))
        self._packages = {str(PurePosixPath(p).parent) for p in python if _is_init(p)}
        self.module_of: dict[str, str] = {}
        self._primary: dict[str, str] = {}
        self._fallback: dict[str, str] = {}
        # .py sorts before .pyi, so the implementation wins over its stub.
        for path in python:
            name = self._package_name(path)
            self.module_of[path] = name
            self._primary.setdefault(name, path)
            for alternative in _path_names(path):
                self._fallback.setdefault(alternative, path)

    def file_of(self, module: str) -> str | None:
        return self._primary.get(module) or self._fallback.get(module)

    def resolve(self, path: str, facts: FileFacts, imp: ImportRef) -> list[Target]:
        absolute = self._absolute(path, imp.spec)
        if absolute is None:
            return []
        if all(member == "" for member in imp.bindings.values()):
            return self._plain(absolute, imp)
        return self._from(absolute, imp)

    def _plain(self, module: str, imp: ImportRef) -> list[Target]:
        # ``import a.b.c``: the deepest module of the chain that exists here.
        parts = module.split(".")
        for cut in range(len(parts), 0, -1):
            found = self.file_of(".".join(parts[:cut]))
            if found:
                return [Target(binding, found, "") for binding in sorted(imp.bindings)]
        return []

    def _from(self, module: str, imp: ImportRef) -> list[Target]:
        base = self.file_of(module) if module else None
        out: list[Target] = []
        for binding, member in sorted(imp.bindings.items()):
            submodule = self.file_of(f"{module}.{member}" if module else member)
            if member != "*" and submodule:
                out.append(Target(binding, submodule, ""))
            elif base:
                out.append(Target(binding, base, member))
        return out

    def _absolute(self, path: str, spec: str) -> str | None:
        level = len(spec) - len(spec.lstrip("."))
        if not level:
            return spec
        parts = self.module_of.get(path, "").split(".")
        if not _is_init(path):
            parts = parts[:-1]  # the package that contains this module
        if level - 1 > len(parts):
            return None
        base = parts[: len(parts) - (level - 1)]
        rest = spec[level:]
        return ".".join([*base, rest] if rest else base)

    def _package_name(self, path: str) -> str:
        pure = PurePosixPath(path)
        directory = pure.parent
        parts = [] if _is_init(path) else [pure.stem]
        while str(directory) != "." and str(directory) in self._packages:
            parts.append(directory.name)
            directory = directory.parent
        return ".".join(reversed(parts)) if parts else pure.stem


def _is_init(path: str) -> bool:
    return PurePosixPath(path).stem == "__init__"


def _path_names(path: str) -> list[str]:
    pure = PurePosixPath(path)
    parts = list(pure.parent.parts) + ([] if _is_init(path) else [pure.stem])
    names = [".".join(parts)] if parts else []
    if parts and parts[0] in ("src", "lib", "python"):
        names.append(".".join(parts[1:]))
    return [n for n in names if n]
