"""What the offline engine learns from one source file.

These facts are the unit of caching: they depend only on a file's bytes and language, so
they are stored in the job's work directory keyed by content hash and reused by every
later step, on whichever worker it runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Symbol(Fact):
    """A class, function, method or type defined in a file.

    ``name`` is qualified inside the file (``Class.method``); lines are 1-based, inclusive.
    """

    name: str
    kind: str  # class, function, method, interface, struct, trait, enum, type
    start: int
    end: int
    signature: str
    doc: str = ""
    bases: list[str] = Field(default_factory=list)  # as written: "abc.ABC", "Base"
    abstract: bool = False  # an extension point, or a method that subclasses must provide
    public: bool = True


class ImportRef(Fact):
    """One import statement. ``bindings`` maps each local name to the imported member.

    The member is "" when the local name is bound to the module (or package) itself.
    Python relative imports keep their leading dots in ``spec``.
    """

    spec: str
    line: int
    bindings: dict[str, str] = Field(default_factory=dict)


class Reference(Fact):
    """A use of a name defined elsewhere: a call, a base class (or embedded type), or a
    type named in a declaration. ``scope`` is the symbol whose body contains it ("" at
    module level). Most languages record only imported names; Go records every name,
    since the files of one package see each other's names without an import."""

    kind: Literal["call", "inherit", "type"]
    name: str  # dotted as written: "b.F", "helper"
    line: int
    scope: str = ""


class FileFacts(Fact):
    language: str
    lines: int
    doc: str = ""  # module docstring or leading file comment
    package: str = ""  # Java package or Go package name
    exports: list[str] | None = None  # Python __all__, when the module declares it
    default_export: str = ""  # JS/TS: the name ``export default`` (or module.exports) binds
    symbols: list[Symbol] = Field(default_factory=list)
    imports: list[ImportRef] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    asserts: list[int] = Field(default_factory=list)  # lines of assert / expect( checks

    def symbol(self, name: str) -> Symbol | None:
        for symbol in self.symbols:
            if symbol.name == name:
                return symbol
        return None

    def top_level(self) -> list[Symbol]:
        return [s for s in self.symbols if "." not in s.name]
