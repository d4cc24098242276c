"""Rust facts: ``mod`` declarations, ``use`` paths, items, and impl blocks.

An ``impl Trait for Type`` block is recorded as a private symbol named
``<Type as Trait>`` (Rust's own notation) whose base is the trait, so that the trait's
implementations can be found; its functions become methods ``Type.fn``.
"""

from __future__ import annotations

import tree_sitter as ts

from analysis.offline.model import FileFacts, ImportRef, Reference, Symbol
from analysis.offline.parsing import treesitter as t
from analysis.offline.parsing.common import attach_scopes, comment_text, split_lines

_ITEMS = {
    "function_item": "function",
    "function_signature_item": "function",
    "struct_item": "struct",
    "enum_item": "enum",
    "union_item": "struct",
    "trait_item": "trait",
    "type_item": "type",
}
_CALLS = """
(call_expression function: [(identifier) (scoped_identifier)] @callee)
(macro_invocation macro: (identifier) @macro)
"""
_SKIP_BEFORE_ITEM = ("attribute_item",)
MOD_PREFIX = "mod "  # spec of a `mod name;` declaration; a space never occurs in a path


def parse_rust(text: str) -> FileFacts:
    source = text.encode("utf-8")
    root = t.parse("rust", source).root_node
    imports: list[ImportRef] = []
    symbols: list[Symbol] = []
    _items(root, "", source, imports, symbols)
    heads = {name for imp in imports for name in imp.bindings}
    refs, asserts = _calls(root, heads)
    refs += [
        Reference(kind="inherit", name=base, line=s.start, scope=s.name)
        for s in symbols
        for base in s.bases
        if base.split(".", 1)[0] in heads
    ]
    return FileFacts(
        language="rust",
        lines=len(split_lines(text)),
        doc=_inner_doc(root),
        symbols=symbols,
        imports=imports,
        references=attach_scopes(symbols, refs),
        asserts=asserts,
    )


def _items(
    parent: ts.Node, owner: str, source: bytes, imports: list[ImportRef], symbols: list[Symbol]
) -> None:
    for node in parent.named_children:
        if node.type == "mod_item":
            name = t.text(t.field(node, "name"))
            body = t.field(node, "body")
            if body is None:
                imports.append(
                    ImportRef(spec=MOD_PREFIX + name, line=t.first_line(node), bindings={name: ""})
                )
            elif not owner:
                _items(body, name, source, imports, symbols)
        elif node.type == "use_declaration":
            imports += _uses(node)
        elif node.type in _ITEMS:
            symbols += _item(node, owner, source)
        elif node.type == "impl_item":
            symbols += _impl(node, source)


def _qualified(owner: str, name: str) -> str:
    return f"{owner}.{name}" if owner else name


def _public(node: ts.Node) -> bool:
    return any(c.type == "visibility_modifier" for c in node.named_children)


def _item(node: ts.Node, owner: str, source: bytes) -> list[Symbol]:
    name = _qualified(owner, t.text(t.field(node, "name")))
    kind = _ITEMS[node.type]
    body = t.field(node, "body")
    members: list[Symbol] = []
    if kind == "trait":
        # A trait's functions are as visible as the trait itself.
        members = [
            _function(f, name, source, _public(node)) for f in t.named(body) if f.type in _FN_TYPES
        ]
    symbol = Symbol(
        name=name,
        kind=kind,
        start=t.first_line(node),
        end=t.last_line(node),
        signature=t.header(node, body, source).rstrip(";"),
        doc=t.leading_doc(node, _SKIP_BEFORE_ITEM),
        abstract=kind == "trait",
        public=_public(node),
    )
    return [symbol, *members]


_FN_TYPES = ("function_item", "function_signature_item")


def _function(node: ts.Node, owner: str, source: bytes, public: bool | None = None) -> Symbol:
    body = t.field(node, "body")
    return Symbol(
        name=f"{owner}.{t.text(t.field(node, 'name'))}",
        kind="method",
        start=t.first_line(node),
        end=t.last_line(node),
        signature=t.header(node, body, source).rstrip(";"),
        doc=t.leading_doc(node, _SKIP_BEFORE_ITEM),
        abstract=body is None,
        public=_public(node) if public is None else public,
    )


def _impl(node: ts.Node, source: bytes) -> list[Symbol]:
    type_name = _base_name(t.text(t.field(node, "type")))
    trait = _base_name(t.text(t.field(node, "trait")))
    body = t.field(node, "body")
    # Methods of a trait impl are as public as the trait; inherent ones say so themselves.
    methods = [
        _function(f, type_name, source, True if trait else None)
        for f in t.named(body)
        if f.type in _FN_TYPES
    ]
    if not trait:
        return methods
    block = Symbol(
        name=f"<{type_name} as {trait}>",
        kind="impl",
        start=t.first_line(node),
        end=t.last_line(node),
        signature=t.header(node, body, source),
        doc=t.leading_doc(node, _SKIP_BEFORE_ITEM),
        bases=[trait],
        public=False,
    )
    return [block, *methods]


def _base_name(raw: str) -> str:
    """``Stack`` for ``Stack<T>``, ``io.Write`` for ``io::Write``."""
    return raw.split("<", 1)[0].replace("::", ".").strip("&* ")


def _uses(node: ts.Node) -> list[ImportRef]:
    line = t.first_line(node)
    out: list[ImportRef] = []
    for path, alias in _use_paths(t.field(node, "argument"), ""):
        if path.endswith("::*"):
            out.append(ImportRef(spec=path, line=line, bindings={"*": "*"}))
            continue
        spec = path.removesuffix("::self")  # `use a::b::{self}` imports `a::b`
        leaf = spec.rsplit("::", 1)[-1]
        out.append(ImportRef(spec=spec, line=line, bindings={alias or leaf: leaf}))
    return out


def _use_paths(node: ts.Node | None, prefix: str) -> list[tuple[str, str]]:
    """Every path a ``use`` tree names, with its ``as`` alias ("" when none)."""
    if node is None:
        return []
    join = (prefix + "::") if prefix else ""
    if node.type == "use_as_clause":
        inner = _use_paths(t.field(node, "path"), prefix)
        return [(p, t.text(t.field(node, "alias"))) for p, _ in inner]
    if node.type == "scoped_use_list":
        base = join + t.text(t.field(node, "path")) if t.field(node, "path") else prefix
        return _use_paths(t.field(node, "list"), base)
    if node.type == "use_list":
        return [p for child in node.named_children for p in _use_paths(child, prefix)]
    if node.type == "use_wildcard":
        scope = t.text(node.named_children[0]) if node.named_children else ""
        return [(join + scope + "::*" if scope else prefix + "::*", "")]
    return [(join + t.text(node), "")]


def _calls(root: ts.Node, heads: set[str]) -> tuple[list[Reference], list[int]]:
    refs: list[Reference] = []
    asserts: set[int] = set()
    found = t.captures("rust", _CALLS, root)
    for macro in found.get("macro", []):
        if t.text(macro).startswith(("assert", "debug_assert")):
            asserts.add(t.first_line(macro))
    for callee in found.get("callee", []):
        name = t.dotted_name(t.text(callee), "::")
        if name and (name.split(".", 1)[0] in heads or "*" in heads):
            refs.append(Reference(kind="call", name=name, line=t.first_line(callee)))
    return refs, sorted(asserts)


def _inner_doc(root: ts.Node) -> str:
    block: list[str] = []
    for node in root.named_children:
        raw = t.text(node)
        if node.type not in ("line_comment", "block_comment"):
            break
        if raw.startswith(("//!", "/*!")):
            block.append(raw)
    return comment_text("\n".join(block))
