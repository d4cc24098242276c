"""Markdown as the web app's course page needs it: normalised, without relative links,
and in pieces small enough for one Convex document.

The course page renders each doc with ReactMarkdown: an unclosed code fence turns the rest
of the doc into code, and it opens docs by client state, so a relative ``02-core.md`` link
navigates to a URL that errors. Every doc the store receives passes through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A Convex document holds at most 1 MiB; the rest of a doc's fields and the encoding's
# overhead fit in what this leaves.
MAX_DOC_BYTES = 900_000

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_H1 = re.compile(r"^ {0,3}# ")
# [text](target) where target is a relative path to a .md file, with an optional anchor
# or title. Absolute URLs (a scheme, or //host) and pure anchors are left alone.
_INLINE_MD_LINK = re.compile(
    r"(?<!!)\[(?P<text>[^\]\n]*)\]\((?P<target>(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)"
    r"[^)\s]*\.md(?:#[^)\s]*)?)(?:\s+\"[^\"\n]*\")?\)"
)
# A reference definition "[label]: 02-core.md" pointing at a relative .md file.
_REF_MD_DEF = re.compile(
    r"^ {0,3}\[[^\]\n]+\]:\s+(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)\S*\.md(?:#\S*)?(?:\s.*)?$"
)


def _fence_marker(line: str) -> str | None:
    match = _FENCE.match(line)
    return match.group(1) if match else None


def _closes(line: str, opener: str) -> bool:
    """A fence closes with the same character, at least as long, and nothing after it."""
    stripped = line.strip()
    indent = len(line) - len(line.lstrip(" "))
    return indent <= 3 and len(stripped) >= len(opener) and set(stripped) == {opener[0]}


def _outside_fences(lines: list[str]) -> Iterator[tuple[int, bool]]:
    """Each line's index, and whether it is prose (outside every code fence)."""
    opener: str | None = None
    for i, line in enumerate(lines):
        if opener is None:
            marker = _fence_marker(line)
            if marker is not None:
                opener = marker
                yield i, False
            else:
                yield i, True
        else:
            if _fence_marker(line) is not None and _closes(line, opener):
                opener = None
            yield i, False


def normalize(text: str) -> str:
    """LF line ends, no trailing blank lines, every code fence closed, one final newline."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    opener: str | None = None
    for line in lines:
        marker = _fence_marker(line)
        if marker is None:
            continue
        if opener is None:
            opener = marker
        elif _closes(line, opener):
            opener = None
    body = "\n".join(lines).rstrip()
    if opener is not None:
        body += "\n" + opener
    return body + "\n"


def drop_leading_title(text: str) -> str:
    """``text`` without its first line when that line is a level-one heading: the
    course page renders the doc's title as the heading above its content already."""
    lines = text.lstrip("\n").split("\n")
    if lines and _H1.match(lines[0]):
        return "\n".join(lines[1:]).lstrip("\n")
    return text


def course_body(text: str) -> str:
    """A chapter's or tutorial's Markdown as the course page shows it under its title:
    normalised, without its own H1 (the page renders the title as one), without
    relative links."""
    return unlink_relative(drop_leading_title(normalize(text)))


def is_empty_body(text: str) -> bool:
    """Whether nothing would be left under the title on the course page: an answer that
    is blank, or only its H1. The web app's own ``docs.upsertFromJob`` refuses empty
    chapter and tutorial content, and a reader would get a title over nothing."""
    return not course_body(text).strip()


def unlink_relative(text: str) -> str:
    """Relative links to other docs become their plain text; code is left as written.

    Cross-references then read "see Chapter 2: Core" on the course page instead of
    leading to an error page. Links with a scheme and in-page anchors stay links."""
    lines = text.split("\n")
    for i, prose in _outside_fences(lines):
        if not prose:
            continue
        line = _INLINE_MD_LINK.sub(lambda m: m.group("text"), lines[i])
        lines[i] = "" if _REF_MD_DEF.match(line) else line
    return "\n".join(lines)


def split(text: str, max_bytes: int = MAX_DOC_BYTES) -> list[str]:
    """``text`` in pieces of at most ``max_bytes`` UTF-8 bytes, cut between lines.

    A cut inside a code fence closes the fence in one piece and opens it again, with the
    same info string, in the next, so every piece renders on its own. A single line longer
    than a piece is cut between characters (it cannot be kept whole)."""
    if len(text.encode("utf-8")) <= max_bytes:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    fence: tuple[str, str] | None = None  # (opening line, marker) of the open code block
    for line in _lines_within(text, max_bytes // 2):
        n = len(line.encode("utf-8"))
        # Room is kept for the line that closes an open fence at a cut.
        reserve = len(fence[1]) + 2 if fence else 0
        if current and size + n + reserve > max_bytes:
            body = "".join(current)
            if fence is not None:
                body = body.rstrip("\n") + "\n" + fence[1] + "\n"
            pieces.append(body)
            current = [fence[0]] if fence else []
            size = len(fence[0].encode("utf-8")) if fence else 0
        current.append(line)
        size += n
        marker = _fence_marker(line)
        if marker is None:
            continue
        if fence is None:
            fence = (line if line.endswith("\n") else line + "\n", marker)
        elif _closes(line, fence[1]):
            fence = None
    if current:
        pieces.append("".join(current))
    return pieces


def _lines_within(text: str, max_bytes: int) -> Iterator[str]:
    """The lines of ``text`` with their newline, a line over ``max_bytes`` cut in parts."""
    for whole in text.splitlines(keepends=True):
        rest = whole
        while len(rest.encode("utf-8")) > max_bytes:
            head = rest.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
            yield head + "\n"
            rest = rest[len(head) :]
        yield rest
