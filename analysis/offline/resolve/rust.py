"""Rust ``mod`` declarations and ``use`` paths resolved through each crate's module tree.

A crate's root is the directory holding ``lib.rs`` or ``main.rs``; ``a/b.rs`` and
``a/b/mod.rs`` below it are the module ``a::b``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from analysis.offline.model import FileFacts, ImportRef
from analysis.offline.parsing.rust import MOD_PREFIX
from analysis.offline.resolve.base import LanguageResolver, Target

_Module = tuple[str, tuple[str, ...]]  # (crate root directory, module path)


class RustResolver(LanguageResolver):
    def __init__(self, paths: list[str]) -> None:
        rust = sorted(p for p in paths if p.endswith(".rs"))
        roots = {str(PurePosixPath(p).parent) for p in rust if PurePosixPath(p).name in _ROOTS}
        self._module_of: dict[str, _Module] = {}
        self._file_of: dict[_Module, str] = {}
        for path in rust:
            module = _module(path, roots)
            if module is not None:
                self._module_of[path] = module
                self._file_of.setdefault(module, path)

    def resolve(self, path: str, facts: FileFacts, imp: ImportRef) -> list[Target]:
        here = self._module_of.get(path)
        if here is None:
            return []
        root, current = here
        if imp.spec.startswith(MOD_PREFIX):
            found = self._file_of.get((root, (*current, imp.spec[len(MOD_PREFIX) :])))
            return [Target(b, found, "") for b in sorted(imp.bindings)] if found else []
        segments = imp.spec.split("::")
        wildcard = segments[-1] == "*"
        if wildcard:
            segments = segments[:-1]
        for base, rest in _bases(current, segments):
            found, member = self._longest(root, base, rest)
            if found is not None:
                if wildcard:
                    return [Target("*", found, "*")]
                return [Target(b, found, member) for b in sorted(imp.bindings)]
        return []

    def _longest(self, root: str, base: tuple[str, ...], rest: list[str]) -> tuple[str | None, str]:
        for cut in range(len(rest), -1, -1):
            found = self._file_of.get((root, (*base, *rest[:cut])))
            if found is not None and (cut or base):
                return found, rest[cut] if cut < len(rest) else ""
        return None, ""


_ROOTS = ("lib.rs", "main.rs")


def _module(path: str, roots: set[str]) -> _Module | None:
    pure = PurePosixPath(path)
    directory = pure.parent
    while True:
        if str(directory) in roots:
            relative = pure.relative_to(directory) if str(directory) != "." else pure
            parts = list(relative.parent.parts)
            if relative.name not in ("mod.rs", *(_ROOTS if not parts else ())):
                parts.append(relative.stem)
            return str(directory), tuple(parts)
        if str(directory) == ".":
            return None
        directory = directory.parent


def _bases(
    current: tuple[str, ...], segments: list[str]
) -> list[tuple[tuple[str, ...], list[str]]]:
    """Where a ``use`` path may start: the crate root, this module, or a parent."""
    head, rest = segments[0], segments[1:]
    if head == "crate":
        return [((), rest)]
    if head == "self":
        return [(current, rest)]
    if head == "super":
        up = 1
        while rest and rest[0] == "super":
            up, rest = up + 1, rest[1:]
        return [(current[: max(0, len(current) - up)], rest)]
    return [(current, segments), ((), segments)]
