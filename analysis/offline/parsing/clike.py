"""C and C++ facts: includes, functions (and prototypes in headers), classes, structs.

An include binds every name of the included file (the ``*`` binding), so calls to
functions declared there can be resolved once the include is.
"""

from __future__ import annotations

import tree_sitter as ts

from analysis.offline.model import FileFacts, ImportRef, Reference, Symbol
from analysis.offline.parsing import treesitter as t
from analysis.offline.parsing.common import attach_scopes, split_lines

_CONTAINERS = (
    "preproc_ifdef",
    "preproc_if",
    "preproc_else",
    "preproc_elif",
    "linkage_specification",
    "declaration_list",
    "namespace_definition",
    "template_declaration",
)
_RECORDS = {
    "class_specifier": "class",
    "struct_specifier": "struct",
    "union_specifier": "struct",
    "enum_specifier": "enum",
}
_WRAPPERS = (
    "pointer_declarator",
    "reference_declarator",
    "parenthesized_declarator",
    "attributed_declarator",
)
_QUERIES = {
    "c": """
(preproc_include path: (_) @include)
(call_expression function: [(identifier) (field_expression)] @callee)
""",
    "cpp": """
(preproc_include path: (_) @include)
(call_expression function: [(identifier) (qualified_identifier) (field_expression)] @callee)
""",
}
_COMMENTS = ("comment",)


def parse_clike(text: str, language: str) -> FileFacts:
    source = text.encode("utf-8")
    root = t.parse(language, source).root_node
    symbols: list[Symbol] = []
    _declarations(root, source, symbols)
    found = t.captures(language, _QUERIES[language], root)
    imports = sorted(
        (_include(node) for node in found.get("include", [])), key=lambda i: (i.line, i.spec)
    )
    refs: list[Reference] = []
    asserts: set[int] = set()
    for callee in found.get("callee", []):
        name = t.dotted_name(t.text(callee), "::")
        if name.split(".", 1)[0] in ("assert", "ASSERT_EQ", "EXPECT_EQ", "ASSERT_TRUE"):
            asserts.add(t.first_line(callee))
        if name and callee.type != "field_expression":
            refs.append(Reference(kind="call", name=name, line=t.first_line(callee)))
    refs += [
        Reference(kind="inherit", name=base, line=s.start, scope=s.name)
        for s in symbols
        for base in s.bases
    ]
    return FileFacts(
        language=language,
        lines=len(split_lines(text)),
        doc=t.file_comment(root, _COMMENTS),
        symbols=symbols,
        imports=imports,
        references=attach_scopes(symbols, refs),
        asserts=sorted(asserts),
    )


def _include(node: ts.Node) -> ImportRef:
    raw = t.text(node)
    # "local.h" is searched next to the file first; <lib.h> only on include paths.
    spec = raw.strip('"') if raw.startswith('"') else raw
    return ImportRef(spec=spec, line=t.first_line(node), bindings={"*": "*"})


def _declarations(parent: ts.Node, source: bytes, symbols: list[Symbol]) -> None:
    for node in parent.named_children:
        if node.type in _CONTAINERS:
            body = t.field(node, "body")
            _declarations(body if body is not None else node, source, symbols)
        elif node.type == "function_definition":
            symbol = _function(node, node, source, "")
            if symbol is not None:
                symbols.append(symbol)
        elif node.type == "declaration":
            symbol = _function(node, node, source, "", prototype=True)
            if symbol is not None:
                symbols.append(symbol)
        elif node.type in _RECORDS:
            symbols += _record(node, node, source)
        elif node.type == "type_definition":
            inner = t.field(node, "type")
            if inner is not None and inner.type in _RECORDS:
                symbols += _record(inner, node, source)


def _declarator_name(node: ts.Node | None) -> tuple[str, bool]:
    """The declared name of a function declarator and whether it is a function at all."""
    while node is not None and node.type in _WRAPPERS:
        node = t.field(node, "declarator")
    if node is None or node.type != "function_declarator":
        return "", False
    name = t.field(node, "declarator")
    return t.dotted_name(t.text(name).replace("~", ""), "::"), True


def _function(
    node: ts.Node, outer: ts.Node, source: bytes, owner: str, prototype: bool = False
) -> Symbol | None:
    name, is_function = _declarator_name(t.field(node, "declarator"))
    if not is_function or not name:
        return None
    body = t.field(node, "body")
    qualified = f"{owner}.{name}" if owner else name
    in_class = bool(owner) or "." in name
    static = any(t.text(c) == "static" for c in node.named_children if "storage" in c.type)
    return Symbol(
        name=qualified,
        kind="method" if in_class else "function",
        start=t.first_line(outer),
        end=t.last_line(node),
        signature=t.header(node, body, source).rstrip(";").strip(),
        doc=t.leading_doc(outer),
        abstract=prototype and t.text(node).replace(" ", "").endswith("=0;"),
        public=not static,
    )


def _record(node: ts.Node, outer: ts.Node, source: bytes) -> list[Symbol]:
    name = t.text(t.field(node, "name"))
    body = t.field(node, "body")
    if outer.type == "type_definition":
        name = name or t.text(t.field(outer, "declarator"))
    if not t.dotted_name(name) or body is None:
        return []  # a forward declaration, an anonymous or a macro-named record
    members: list[Symbol] = []
    for member in t.named(body):
        if member.type in ("function_definition", "field_declaration", "declaration"):
            symbol = _function(
                member, member, source, name, prototype=member.type != "function_definition"
            )
            if symbol is not None:
                members.append(symbol)
    bases = [
        t.text(b)
        for clause in node.named_children
        if clause.type == "base_class_clause"
        for b in clause.named_children
        if b.type != "access_specifier"
    ]
    return [
        Symbol(
            name=name,
            kind=_RECORDS[node.type],
            start=t.first_line(outer),
            end=t.last_line(outer),
            signature=t.header(outer, body, source),
            doc=t.leading_doc(outer),
            bases=[b.replace("::", ".") for b in bases],
            abstract=any(m.abstract for m in members),
            public=True,
        ),
        *members,
    ]
