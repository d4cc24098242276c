"""What an import resolves to, and the interface each language's resolver implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from analysis.offline.model import FileFacts, ImportRef


@dataclass(frozen=True, order=True)
class Target:
    """One file an import reaches, and what it binds there.

    ``binding`` is the local name ("" when nothing is bound, "*" when every name of the
    target is); ``member`` is the name imported from the target ("" for the module
    itself, "*" for all of its names).
    """

    binding: str
    path: str
    member: str


class LanguageResolver(abc.ABC):
    """Resolves the imports of one language to files of the checkout."""

    @abc.abstractmethod
    def resolve(self, path: str, facts: FileFacts, imp: ImportRef) -> list[Target]: ...

    def implicit(self, path: str, facts: FileFacts) -> list[Target]:
        """Names a file sees without importing them (Java's same-package classes)."""
        return []
