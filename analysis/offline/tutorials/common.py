"""What every tutorial builder needs: the code, cited and excerpted safely."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysis.course.artifacts import AbstractionsArtifact, RelationshipsArtifact
from analysis.offline.files import decode, read_bytes
from analysis.offline.graph import CodeGraph
from analysis.offline.languages import FENCE, is_support_path
from analysis.offline.markdown import code_block
from analysis.offline.parsing.common import split_lines
from analysis.offline.showcase import Showcase
from analysis.offline.text import code
from analysis.offline.touch import Usage
from fondation.errors import PermanentError


@dataclass
class Draft:
    """A tutorial before it is numbered: title, slug stem, Markdown body, files."""

    title: str
    slug: str
    body: list[str]
    files: list[str]


@dataclass
class Workshop:
    root: Path
    graph: CodeGraph
    usage: Usage
    showcase: Showcase
    abstractions: AbstractionsArtifact
    relationships: RelationshipsArtifact | None
    _sources: dict[str, list[str]] = field(default_factory=dict)
    _owner: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for abstraction in self.abstractions.abstractions:
            for path in abstraction.files:
                self._owner.setdefault(path, abstraction.name)

    @property
    def project(self) -> str:
        return self.abstractions.project_name

    def abstraction_of(self, path: str) -> str | None:
        return self._owner.get(path)

    def weight(self, path: str) -> float:
        """How much a file matters: its rank, doubled inside a chosen abstraction."""
        bonus = 2.0 if self.abstraction_of(path) else 1.0
        return self.graph.rank.get(path, 0.0) * bonus

    def is_code(self, path: str) -> bool:
        """Code a tutorial may teach: not a test, example, benchmark or typings file."""
        return path in self.graph.facts and not is_support_path(path)

    @property
    def entry_files(self) -> set[str]:
        """The files of the course's first chapter, where a user starts."""
        return set(self.abstractions.abstractions[0].files)

    def lines(self, path: str) -> list[str]:
        if path not in self._sources:
            try:
                self._sources[path] = split_lines(decode(read_bytes(self.root, path)))
            except (OSError, PermanentError):
                self._sources[path] = []
        return self._sources[path]

    def cite(self, path: str, start: int, end: int | None = None) -> str:
        total = len(self.lines(path))
        if total < 1 or " " in path or "`" in path:
            return code(path)
        start = min(max(1, start), total)
        end = min(max(start, end if end is not None else start), total)
        return f"`{path}:{start}`" if start == end else f"`{path}:{start}-{end}`"

    def excerpt(self, path: str, start: int, end: int) -> list[str]:
        text = "\n".join(self.lines(path)[max(0, start - 1) : end])
        language = (
            FENCE.get(self.graph.facts[path].language, "") if path in self.graph.facts else ""
        )
        return code_block(text, language)


def answer(lines: list[str]) -> list[str]:
    """The answer, folded away so that the reader tries first."""
    return [
        "## Answer",
        "",
        "<details>",
        "<summary>Show the answer</summary>",
        "",
        *lines,
        "",
        "</details>",
        "",
    ]


def split_node(node: str) -> tuple[str, str]:
    path, _, name = node.partition("::")
    return path, name
