"""Just enough Markdown structure for chapters: fenced blocks, headings, citations, links.

Used by the chapter writer to emit and by the reviewer to check, so both agree on what
a fence, a heading and an inline citation are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# `path/to/file.ext:12` or `...:12-30`: a path with an extension, then lines.
CITATION = re.compile(r"`([^`\s:]+\.[A-Za-z0-9]+):(\d+)(?:-(\d+))?`")
LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+\S")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass
class Block:
    """A run of lines: either a fenced code block (with its info word) or plain text."""

    lines: list[str]
    fence: str = ""  # the opening fence, "" for text
    info: str = ""

    @property
    def is_code(self) -> bool:
        return bool(self.fence)


def blocks(markdown: str) -> list[Block]:
    out: list[Block] = []
    current = Block([])
    for line in markdown.split("\n"):
        if current.is_code:
            current.lines.append(line)
            stripped = line.strip()
            if stripped.startswith(current.fence) and not stripped.strip(current.fence[0]):
                out.append(current)
                current = Block([])
            continue
        opened = _FENCE_OPEN.match(line)
        if opened:
            if current.lines:
                out.append(current)
            current = Block([line], fence=opened.group(1), info=opened.group(2))
        else:
            current.lines.append(line)
    if current.lines:
        out.append(current)
    return out


def join(parts: list[Block]) -> str:
    return "\n".join("\n".join(b.lines) for b in parts)


def fence_for(code: str) -> str:
    """A backtick fence longer than any backtick run inside ``code``."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def code_block(code: str, language: str) -> list[str]:
    fence = fence_for(code)
    return [f"{fence}{language}", *code.split("\n"), fence]


def heading_level(line: str) -> int:
    match = HEADING.match(line)
    return len(match.group(1)) if match else 0
