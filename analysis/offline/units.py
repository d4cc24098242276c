"""Candidate abstractions: directories and modules at a grain that suits the course.

Start from the checkout root and keep opening the largest directory (into its
sub-directories and its own files) while it holds more than its share of the code,
until there are a few times more candidates than chapters. A small project thus ends
up with modules as candidates, a large one with packages.
"""

from __future__ import annotations

import math
import posixpath
from collections import defaultdict
from dataclasses import dataclass

MIN_CHAPTERS = 6
MAX_CHAPTERS = 12
CANDIDATES_PER_CHAPTER = 3


@dataclass(frozen=True)
class Unit:
    path: str  # a directory ("" for the root) or a file
    is_dir: bool
    files: tuple[str, ...]
    lines: int
    # A family of files that repeat one pattern (``bool.go``, ``int.go``...): the
    # pattern's name, then each member's name.
    family: tuple[str, ...] = ()


def chapter_count(code_files: int) -> int:
    return max(MIN_CHAPTERS, min(MAX_CHAPTERS, round(math.sqrt(code_files) * 1.1)))


def plan_units(lines: dict[str, int], chapters: int) -> list[Unit]:
    """Split the tree of ``lines`` (path -> line count) into candidate units."""
    tree = _Tree(lines)
    units = [tree.unit("")]
    share = max(1, sum(lines.values())) / chapters
    while len(units) < chapters * CANDIDATES_PER_CHAPTER:
        openable = [u for u in units if u.is_dir and len(u.files) > 1 and u.lines > share]
        if not openable:
            break
        widest = max(openable, key=lambda u: (u.lines, u.path))
        units.remove(widest)
        units += tree.children(widest.path)
    return sorted(units, key=lambda u: u.path)


class _Tree:
    def __init__(self, lines: dict[str, int]) -> None:
        self._lines = lines
        self._files: dict[str, list[str]] = defaultdict(list)  # dir -> files below
        self._subdirs: dict[str, set[str]] = defaultdict(set)
        self._direct: dict[str, list[str]] = defaultdict(list)
        for path in sorted(lines):
            directory = posixpath.dirname(path)
            self._direct[directory].append(path)
            while True:
                self._files[directory].append(path)
                if not directory:
                    break
                parent = posixpath.dirname(directory)
                self._subdirs[parent].add(directory)
                directory = parent

    def unit(self, directory: str) -> Unit:
        files = tuple(self._files[directory])
        return Unit(directory, True, files, sum(self._lines[f] for f in files))

    def children(self, directory: str) -> list[Unit]:
        """Its sub-directories and own files; a lone sub-directory is opened at once."""
        subdirs = sorted(self._subdirs[directory])
        direct = self._direct[directory]
        if len(subdirs) == 1 and not direct:
            return self.children(subdirs[0])
        out = [self.unit(d) for d in subdirs]
        out += [Unit(f, False, (f,), self._lines[f]) for f in direct]
        return out
