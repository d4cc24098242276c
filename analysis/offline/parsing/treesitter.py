"""Shared tree-sitter plumbing: grammars, per-thread parsers, compiled queries, and the
small node helpers every language's extractor needs."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator

import tree_sitter as ts
import tree_sitter_c
import tree_sitter_cpp
import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_rust
import tree_sitter_typescript

from analysis.offline.parsing.common import comment_text, one_line

_GRAMMARS: dict[str, Callable[[], object]] = {
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
    "go": tree_sitter_go.language,
    "java": tree_sitter_java.language,
    "rust": tree_sitter_rust.language,
    "c": tree_sitter_c.language,
    "cpp": tree_sitter_cpp.language,
}

_DOTTED = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")

# Parsers keep state between calls, so each thread gets its own.
_local = threading.local()


@functools.cache
def grammar(language: str) -> ts.Language:
    return ts.Language(_GRAMMARS[language]())


def parse(language: str, source: bytes) -> ts.Tree:
    parsers: dict[str, ts.Parser] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = ts.Parser(grammar(language))
    return parser.parse(source)


@functools.cache
def _query(language: str, source: str) -> ts.Query:
    return ts.Query(grammar(language), source)


def captures(language: str, source: str, node: ts.Node) -> dict[str, list[ts.Node]]:
    """Run a query; captures come back grouped by name (unordered: sort if it matters)."""
    return ts.QueryCursor(_query(language, source)).captures(node)


def matches(language: str, source: str, node: ts.Node) -> list[dict[str, list[ts.Node]]]:
    """Run a query; one dict of captures per match, in document order."""
    return [found for _, found in ts.QueryCursor(_query(language, source)).matches(node)]


def file_comment(root: ts.Node, kinds: tuple[str, ...]) -> str:
    """The comment block that opens a file, unless it documents the declaration right
    below it (no blank line between)."""
    block: list[ts.Node] = []
    for node in root.named_children:
        if node.type not in kinds:
            following = node
            break
        block.append(node)
    else:
        following = None
    if not block:
        return ""
    if following is not None and following.start_point.row <= block[-1].end_point.row + 1:
        return ""
    return comment_text("\n".join(text(n) for n in block))


def text(node: ts.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def first_line(node: ts.Node) -> int:
    return node.start_point.row + 1


def last_line(node: ts.Node) -> int:
    return node.end_point.row + 1


def field(node: ts.Node, name: str) -> ts.Node | None:
    return node.child_by_field_name(name)


def named(node: ts.Node | None) -> Iterator[ts.Node]:
    if node is not None:
        yield from node.named_children


def header(node: ts.Node, body: ts.Node | None, source: bytes) -> str:
    """The declaration as written up to its body: the signature."""
    end = body.start_byte if body is not None else node.end_byte
    return one_line(source[node.start_byte : end].decode("utf-8", errors="replace"))


def leading_doc(node: ts.Node, skip: tuple[str, ...] = ()) -> str:
    """The comment block directly above a declaration (no blank line between)."""
    block: list[str] = []
    expected_row = node.start_point.row
    sibling = node.prev_named_sibling
    while sibling is not None:
        if sibling.type in skip:
            expected_row = sibling.start_point.row
            sibling = sibling.prev_named_sibling
            continue
        if "comment" not in sibling.type or sibling.end_point.row < expected_row - 1:
            break
        block.append(text(sibling))
        expected_row = sibling.start_point.row
        sibling = sibling.prev_named_sibling
    return comment_text("\n".join(reversed(block)))


def dotted_name(raw: str, separator: str = ".") -> str:
    """``a.b.c`` if the callee is a plain chain of names, else "" (calls on results...)."""
    name = raw.replace(separator, ".") if separator != "." else raw
    name = re.sub(r"\s+", "", name)
    return name if _DOTTED.match(name) else ""
