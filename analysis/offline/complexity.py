"""Complexity hot spots: lizard's cyclomatic complexity per function."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lizard

from analysis.offline.files import decode, read_bytes
from fondation.cancel import CancelToken
from fondation.errors import PermanentError


@dataclass(frozen=True, order=True)
class HotSpot:
    path: str
    name: str
    start: int
    end: int
    complexity: int
    lines: int  # lines of code, without blanks and comments


def hot_spots(root: Path, paths: list[str], cancel: CancelToken, limit: int = 5) -> list[HotSpot]:
    """The ``limit`` most branching functions among ``paths``, most complex first."""
    found: list[HotSpot] = []
    for path in sorted(paths):
        cancel.check()
        try:
            text = decode(read_bytes(root, path))
        except (OSError, PermanentError):
            continue
        analysis = lizard.analyze_file.analyze_source_code(path, text)
        found += [
            HotSpot(path, f.name, f.start_line, f.end_line, f.cyclomatic_complexity, f.nloc)
            for f in analysis.function_list
        ]
    found.sort(key=lambda h: (-h.complexity, h.path, h.start, h.name))
    return found[:limit]
