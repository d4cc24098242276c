"""Helpers shared by every language's parser."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable

from analysis.offline.model import Reference, Symbol

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SPACES = re.compile(r"\s+")
SIGNATURE_CHARS = 240
DOC_CHARS = 1200


def split_lines(text: str) -> list[str]:
    """Lines as parsers count them: only CR, LF and CRLF end a line (not form feeds)."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def one_line(text: str, limit: int = SIGNATURE_CHARS) -> str:
    flat = _SPACES.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def clip_doc(text: str) -> str:
    text = text.strip()
    return text if len(text) <= DOC_CHARS else text[: DOC_CHARS - 1].rstrip() + "…"


def comment_text(raw: str) -> str:
    """The words of a comment block, without its markers (``//``, ``/**``, ``#``, ``*``)."""
    out: list[str] = []
    for line in split_lines(raw):
        stripped = line.strip()
        stripped = re.sub(r"^(/\*\*?|\*/|///?!?|//!|#+|\*(?!/))", "", stripped)
        stripped = re.sub(r"\*/$", "", stripped).strip()
        out.append(stripped)
    return clip_doc("\n".join(out).strip())


def attach_scopes(symbols: list[Symbol], refs: Iterable[Reference]) -> list[Reference]:
    """Set each reference's scope to the innermost symbol spanning its line; dedupe."""
    ordered = sorted(symbols, key=lambda s: (s.start, -s.end))
    starts = [s.start for s in ordered]
    reach = list(itertools.accumulate((s.end for s in ordered), max))
    seen: dict[tuple[str, str, str], Reference] = {}
    for ref in refs:
        scope = ref.scope or _innermost(ordered, starts, reach, ref.line)
        key = (ref.kind, ref.name, scope)
        if key not in seen or ref.line < seen[key].line:
            seen[key] = Reference(kind=ref.kind, name=ref.name, line=ref.line, scope=scope)
    return sorted(seen.values(), key=lambda r: (r.line, r.kind, r.name, r.scope))


def _innermost(ordered: list[Symbol], starts: list[int], reach: list[int], line: int) -> str:
    index = bisect.bisect_right(starts, line) - 1
    # reach[i] is the furthest line any of the first i+1 symbols spans: once it falls
    # short of the line, no earlier symbol can contain it.
    while index >= 0 and reach[index] >= line:
        symbol = ordered[index]
        if symbol.end >= line:
            return symbol.name
        index -= 1
    return ""


def bound_heads(bindings: Iterable[str]) -> set[str]:
    """First identifiers of the local names an import binds (``a`` for ``a.b.c``)."""
    return {name.split(".", 1)[0] for name in bindings}
