"""Java facts: package, imports, top-level types with their methods and nested types."""

from __future__ import annotations

import re

import tree_sitter as ts

from analysis.offline.model import FileFacts, ImportRef, Reference, Symbol
from analysis.offline.parsing import treesitter as t
from analysis.offline.parsing.common import attach_scopes, split_lines

_TYPES = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "class",
    "annotation_type_declaration": "interface",
}
_CALLS = """
(method_invocation) @call
(object_creation_expression type: [(type_identifier) (scoped_type_identifier)] @created)
"""
_COMMENTS = ("block_comment", "line_comment")
_ANNOTATIONS = re.compile(r"^(@[\w.]+(\([^)]*\))?\s+)+")


def parse_java(text: str) -> FileFacts:
    source = text.encode("utf-8")
    root = t.parse("java", source).root_node
    package = ""
    imports: list[ImportRef] = []
    symbols: list[Symbol] = []
    for node in root.named_children:
        if node.type == "package_declaration":
            package = t.text(node.named_children[0]) if node.named_children else ""
        elif node.type == "import_declaration":
            imports.append(_import(node))
        elif node.type in _TYPES:
            symbols += _type(node, "", source, interface_owner=False)
    heads = {name for imp in imports for name in imp.bindings}
    refs, asserts = _calls(root, heads)
    refs += [
        Reference(kind="inherit", name=base, line=s.start, scope=s.name)
        for s in symbols
        for base in s.bases
        if _visible(base, heads)
    ]
    return FileFacts(
        language="java",
        lines=len(split_lines(text)),
        doc=t.file_comment(root, _COMMENTS),
        package=package,
        symbols=symbols,
        imports=imports,
        references=attach_scopes(symbols, refs),
        asserts=asserts,
    )


def _import(node: ts.Node) -> ImportRef:
    path = next((t.text(c) for c in node.named_children if "identifier" in c.type), "")
    wildcard = any(c.type == "asterisk" for c in node.named_children)
    if wildcard:
        return ImportRef(spec=path + ".*", line=t.first_line(node), bindings={"*": "*"})
    leaf = path.rsplit(".", 1)[-1]
    return ImportRef(spec=path, line=t.first_line(node), bindings={leaf: leaf})


def _modifiers(node: ts.Node) -> set[str]:
    for child in node.named_children:
        if child.type == "modifiers":
            return {t.text(c) for c in child.children if not c.is_named}
    return set()


def _type(node: ts.Node, owner: str, source: bytes, interface_owner: bool) -> list[Symbol]:
    name = t.text(t.field(node, "name"))
    qualified = f"{owner}.{name}" if owner else name
    kind = _TYPES[node.type]
    modifiers = _modifiers(node)
    body = t.field(node, "body")
    members: list[Symbol] = []
    for member in t.named(body):
        if member.type in ("method_declaration", "constructor_declaration"):
            members.append(_method(member, qualified, source, kind == "interface"))
        elif member.type in _TYPES and not owner:
            members += _type(member, qualified, source, kind == "interface")
    symbol = Symbol(
        name=qualified,
        kind=kind,
        start=t.first_line(node),
        end=t.last_line(node),
        signature=t.header(node, body, source),
        doc=t.leading_doc(node),
        bases=_bases(node),
        abstract=kind == "interface" or "abstract" in modifiers,
        public="public" in modifiers or interface_owner,
    )
    return [symbol, *members]


def _bases(node: ts.Node) -> list[str]:
    bases: list[str] = []
    for clause in node.named_children:
        if clause.type in ("superclass", "super_interfaces", "extends_interfaces"):
            for part in clause.named_children:
                items = part.named_children if part.type == "type_list" else [part]
                bases += [t.text(i).split("<", 1)[0] for i in items]
    return bases


def _method(node: ts.Node, owner: str, source: bytes, in_interface: bool) -> Symbol:
    modifiers = _modifiers(node)
    body = t.field(node, "body")
    abstract = "abstract" in modifiers or (
        in_interface and body is None and "static" not in modifiers
    )
    return Symbol(
        name=f"{owner}.{t.text(t.field(node, 'name'))}",
        kind="method",
        start=t.first_line(node),
        end=t.last_line(node),
        signature=_ANNOTATIONS.sub("", t.header(node, body, source)).rstrip(";"),
        doc=t.leading_doc(node),
        abstract=abstract,
        public="public" in modifiers or in_interface,
    )


def _calls(root: ts.Node, heads: set[str]) -> tuple[list[Reference], list[int]]:
    refs: list[Reference] = []
    asserts: set[int] = set()
    found = t.captures("java", _CALLS, root)
    for call in found.get("call", []):
        obj = t.field(call, "object")
        method = t.text(t.field(call, "name"))
        name = t.dotted_name(f"{t.text(obj)}.{method}" if obj is not None else method)
        if method.startswith("assert"):
            asserts.add(t.first_line(call))
        if name and _visible(name, heads):
            refs.append(Reference(kind="call", name=name, line=t.first_line(call)))
    for created in found.get("created", []):
        name = t.dotted_name(t.text(created).split("<", 1)[0])
        if name and _visible(name, heads):
            refs.append(Reference(kind="call", name=name, line=t.first_line(created)))
    return refs, sorted(asserts)


def _visible(name: str, heads: set[str]) -> bool:
    # Classes of the same package need no import: keep capitalised heads for the graph
    # to resolve against the package.
    head = name.split(".", 1)[0]
    return head in heads or "*" in heads or head[:1].isupper()
