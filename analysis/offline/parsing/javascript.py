"""JavaScript, TypeScript and TSX facts (ES modules and CommonJS ``require``)."""

from __future__ import annotations

import tree_sitter as ts

from analysis.offline.model import FileFacts, ImportRef, Reference, Symbol
from analysis.offline.parsing import treesitter as t
from analysis.offline.parsing.common import attach_scopes, bound_heads, split_lines

_CALLS = """
(call_expression function: [(identifier) (member_expression)] @callee)
(new_expression constructor: [(identifier) (member_expression)] @callee)
"""
_LOADS = """
(call_expression function: [(identifier) (import)] @fn arguments: (arguments . (string) @src))
"""
_CLASSES = ("class_declaration", "abstract_class_declaration", "class")
_FUNCTIONS = ("function_declaration", "generator_function_declaration")
_VARIABLES = ("lexical_declaration", "variable_declaration")
_FUNCTION_VALUES = ("arrow_function", "function_expression", "function", "generator_function")
_ASSERT_CALLS = ("expect", "assert")
_DEFAULT_DEPTH = 3
_MODIFIERS = ("accessibility_modifier", "abstract")


def parse_javascript(text: str, language: str) -> FileFacts:
    source = text.encode("utf-8")
    root = t.parse(language, source).root_node
    symbols: list[Symbol] = []
    imports: list[ImportRef] = []
    exported = any(c.type == "export_statement" for c in root.named_children)
    for node in root.named_children:
        _statement(node, node, source, not exported, symbols, imports)
    default = _default_export(root)
    if exported:
        # Declared first, exported at the end: ``class Axios {}`` ... ``export default
        # Axios``, or ``export { a, b }``.
        named = _local_exports(root) | {default}
        symbols = [
            s.model_copy(update={"public": True})
            if s.name in named and not s.name.startswith("_")
            else s
            for s in symbols
        ]
    imports += _loads(language, root)
    calls, asserts = _calls(language, root)
    heads = bound_heads(name for imp in imports for name in imp.bindings)
    refs = [r for r in calls if r.name.split(".", 1)[0] in heads]
    refs += [
        Reference(kind="inherit", name=base, line=s.start, scope=s.name)
        for s in symbols
        for base in s.bases
        if base.split(".", 1)[0] in heads
    ]
    return FileFacts(
        language=language,
        lines=len(split_lines(text)),
        doc=_file_doc(root),
        default_export=default,
        symbols=symbols,
        imports=sorted(imports, key=lambda i: (i.line, i.spec)),
        references=attach_scopes(symbols, refs),
        asserts=asserts,
    )


def _statement(
    node: ts.Node,
    outer: ts.Node,
    source: bytes,
    public: bool,
    symbols: list[Symbol],
    imports: list[ImportRef],
) -> None:
    kind = node.type
    if kind == "import_statement":
        imports.append(_import(node))
    elif kind == "export_statement":
        if t.field(node, "source") is not None:
            imports.append(_import(node))
        for child in node.named_children:
            _statement(child, node, source, True, symbols, imports)
        value = t.field(node, "value")
        if value is not None and value.type != "identifier":
            symbols += _default_functions(node, value, source)
    elif kind in _CLASSES:
        symbols += _class(node, outer, source, public)
    elif kind in _FUNCTIONS:
        symbols.append(_function(node, outer, source, t.text(t.field(node, "name")), public))
    elif kind in ("interface_declaration", "type_alias_declaration", "enum_declaration"):
        symbols += _type(node, outer, source, public)
    elif kind == "expression_statement":
        symbols += _assigned_function(node, source)
    elif kind in _VARIABLES:
        for declarator in node.named_children:
            value = t.field(declarator, "value")
            if (
                declarator.type == "variable_declarator"
                and value
                and value.type in _FUNCTION_VALUES
            ):
                name = t.text(t.field(declarator, "name"))
                symbols.append(_function(value, outer, source, name, public, declarator))


def _default_functions(node: ts.Node, value: ts.Node, source: bytes) -> list[Symbol]:
    """The functions an ``export default`` expression hands out: ``export default
    supported && function httpAdapter(config) {...}``, ``export default {getAdapter:
    (names) => ...}``; an anonymous one is the module's ``default``."""
    found: list[Symbol] = []
    ring = [value]
    for _ in range(_DEFAULT_DEPTH):
        following: list[ts.Node] = []
        for part in ring:
            if part.type in _FUNCTION_VALUES:
                name = t.text(t.field(part, "name")) or "default"
                found.append(_function(part, node, source, name, True))
            elif part.type == "pair" and t.field(part, "value") is not None:
                function = t.field(part, "value")
                if function is not None and function.type in _FUNCTION_VALUES:
                    name = t.text(t.field(part, "key")) or "default"
                    found.append(_function(function, function, source, name, True))
            else:
                following += part.named_children
        ring = following
    return found


def _local_exports(root: ts.Node) -> set[str]:
    """Names a module exports by name without re-exporting them: ``export { a, b as c }``."""
    names: set[str] = set()
    for node in root.named_children:
        if node.type != "export_statement" or t.field(node, "source") is not None:
            continue
        for part in node.named_children:
            if part.type == "export_clause":
                names |= {t.text(t.field(spec, "name")) for spec in part.named_children}
    return names - {""}


def _default_export(root: ts.Node) -> str:
    """The name the module hands out by default: ``export default axios``, ``export {
    axios as default }``, ``export default class Got``, ``module.exports = got`` or
    ``exports.default = got``."""
    found = ""
    for node in root.named_children:
        if node.type == "export_statement" and t.field(node, "source") is None:
            for part in node.named_children:
                for spec in part.named_children if part.type == "export_clause" else []:
                    if t.text(t.field(spec, "alias")) == "default":
                        return t.text(t.field(spec, "name"))  # export { axios as default }
        if node.type == "export_statement" and any(c.type == "default" for c in node.children):
            value = t.field(node, "value") or t.field(node, "declaration")
            name = t.field(value, "name") if value is not None else None
            if value is not None and value.type == "identifier":
                return t.text(value)
            if name is not None:
                return t.text(name)
        elif node.type == "expression_statement" and node.named_children:
            assignment = node.named_children[0]
            left, right = t.field(assignment, "left"), t.field(assignment, "right")
            if assignment.type != "assignment_expression" or left is None or right is None:
                continue
            if t.text(left) in ("module.exports", "exports.default"):
                name = right if right.type == "identifier" else t.field(right, "name")
                found = found or (t.text(name) if name is not None else "")
    return found


def _assigned_function(node: ts.Node, source: bytes) -> list[Symbol]:
    """CommonJS style: ``exports.f = function`` (a top-level ``f``) and
    ``picomatch.isMatch = (...) => ...`` (a member of ``picomatch``)."""
    assignment = node.named_children[0] if node.named_children else None
    if assignment is None or assignment.type != "assignment_expression":
        return []
    left, value = t.field(assignment, "left"), t.field(assignment, "right")
    if left is None or value is None or value.type not in _FUNCTION_VALUES:
        return []
    owner, prop = t.field(left, "object"), t.field(left, "property")
    if left.type != "member_expression" or owner is None or owner.type != "identifier":
        return []
    member = t.text(prop)
    name = member if t.text(owner) == "exports" else f"{t.text(owner)}.{member}"
    return [
        Symbol(
            name=name,
            kind="function" if "." not in name else "method",
            start=t.first_line(node),
            end=t.last_line(node),
            signature=t.header(assignment, t.field(value, "body"), source),
            doc=t.leading_doc(node),
            public=not member.startswith("_"),
        )
    ]


def _import(node: ts.Node) -> ImportRef:
    spec = _string(t.field(node, "source"))
    bindings: dict[str, str] = {}
    if node.type == "export_statement":
        return ImportRef(spec=spec, line=t.first_line(node), bindings=_reexports(node))
    for clause in node.named_children:
        if clause.type != "import_clause":
            continue
        for part in clause.named_children:
            if part.type == "identifier":
                bindings[t.text(part)] = "default"
            elif part.type == "namespace_import":
                bindings[t.text(part.named_children[-1])] = ""
            elif part.type == "named_imports":
                for spec_node in part.named_children:
                    name = t.text(t.field(spec_node, "name"))
                    alias = t.text(t.field(spec_node, "alias")) or name
                    if name:
                        bindings[alias] = name
    return ImportRef(spec=spec, line=t.first_line(node), bindings=bindings)


def _reexports(node: ts.Node) -> dict[str, str]:
    """``export * from``, ``export * as ns from`` and ``export {a as b} from``: the names
    a re-exporting module (an ``index``) passes on, so that uses resolve through it."""
    bindings: dict[str, str] = {}
    for part in node.named_children:
        if part.type == "export_clause":
            for spec_node in part.named_children:
                name = t.text(t.field(spec_node, "name"))
                alias = t.text(t.field(spec_node, "alias")) or name
                if name:
                    bindings[alias] = name
        elif part.type == "namespace_export":
            bindings[t.text(part.named_children[-1])] = ""
    return bindings or {"*": "*"}


def _loads(language: str, root: ts.Node) -> list[ImportRef]:
    """``require('x')`` and ``import('x')`` anywhere, bound to the declared name if any."""
    out: list[ImportRef] = []
    for found in t.matches(language, _LOADS, root):
        fn, src = found["fn"][0], found["src"][0]
        if fn.type == "identifier" and t.text(fn) != "require":
            continue
        call = src.parent.parent if src.parent is not None else None
        bindings: dict[str, str] = {}
        holder = call.parent if call is not None else None
        if holder is not None and holder.type == "variable_declarator":
            target = t.field(holder, "name")
            if target is not None and target.type == "identifier":
                bindings[t.text(target)] = ""
            elif target is not None and target.type == "object_pattern":
                for part in target.named_children:
                    bindings[t.text(part)] = t.text(part)
        out.append(ImportRef(spec=_string(src), line=t.first_line(src), bindings=bindings))
    return out


def _string(node: ts.Node | None) -> str:
    return t.text(node).strip("'\"`")


def _class(node: ts.Node, outer: ts.Node, source: bytes, public: bool) -> list[Symbol]:
    name = t.text(t.field(node, "name"))
    if not name:
        return []
    bases = [
        t.text(b)
        for heritage in node.named_children
        if heritage.type == "class_heritage"
        for b in _heritage_names(heritage)
    ]
    body = t.field(node, "body")
    members = [_method(m, name, source) for m in t.named(body) if _is_method(m)]
    abstract = node.type == "abstract_class_declaration" or any(m.abstract for m in members)
    symbol = Symbol(
        name=name,
        kind="class",
        start=t.first_line(outer),
        end=t.last_line(node),
        signature=t.header(node, body, source),
        doc=t.leading_doc(outer),
        bases=bases,
        abstract=abstract,
        public=public and not name.startswith("_"),
    )
    return [symbol, *members]


def _heritage_names(heritage: ts.Node) -> list[ts.Node]:
    names: list[ts.Node] = []
    for part in heritage.named_children:
        if part.type in ("extends_clause", "implements_clause"):
            names += [n for n in part.named_children if n.type != "type_arguments"]
        else:
            names.append(part)  # JavaScript: the extended expression itself
    return names


def _is_method(node: ts.Node) -> bool:
    return node.type in ("method_definition", "abstract_method_signature", "method_signature")


def _method(node: ts.Node, owner: str, source: bytes) -> Symbol:
    modifiers = {t.text(c) for c in node.children if c.type in _MODIFIERS}
    return Symbol(
        name=f"{owner}.{t.text(t.field(node, 'name'))}",
        kind="method",
        start=t.first_line(node),
        end=t.last_line(node),
        signature=t.header(node, t.field(node, "body"), source),
        doc=t.leading_doc(node),
        abstract=node.type != "method_definition" or "abstract" in modifiers,
        public="private" not in modifiers and not t.text(t.field(node, "name")).startswith("#"),
    )


def _function(
    node: ts.Node,
    outer: ts.Node,
    source: bytes,
    name: str,
    public: bool,
    declarator: ts.Node | None = None,
) -> Symbol:
    head = declarator if declarator is not None else node
    return Symbol(
        name=name,
        kind="function",
        start=t.first_line(outer),
        end=t.last_line(node),
        signature=t.header(head, t.field(node, "body"), source),
        doc=t.leading_doc(outer),
        public=public and not name.startswith("_"),
    )


def _type(node: ts.Node, outer: ts.Node, source: bytes, public: bool) -> list[Symbol]:
    name = t.text(t.field(node, "name"))
    interface = node.type == "interface_declaration"
    body = t.field(node, "body")
    members = [_method(m, name, source) for m in t.named(body) if _is_method(m)]
    bases = [
        t.text(n)
        for clause in node.named_children
        if clause.type == "extends_type_clause"
        for n in clause.named_children
    ]
    symbol = Symbol(
        name=name,
        kind={"interface_declaration": "interface", "enum_declaration": "enum"}.get(
            node.type, "type"
        ),
        start=t.first_line(outer),
        end=t.last_line(node),
        signature=t.header(node, body if interface else None, source),
        doc=t.leading_doc(outer),
        bases=bases,
        abstract=interface,
        public=public and not name.startswith("_"),
    )
    return [symbol, *members] if interface else [symbol]


def _calls(language: str, root: ts.Node) -> tuple[list[Reference], list[int]]:
    refs: list[Reference] = []
    asserts: set[int] = set()
    for node in t.captures(language, _CALLS, root).get("callee", []):
        name = t.dotted_name(t.text(node))
        if not name:
            continue
        line = t.first_line(node)
        if name.split(".", 1)[0] in _ASSERT_CALLS:
            asserts.add(line)
        refs.append(Reference(kind="call", name=name, line=line))
    return refs, sorted(asserts)


def _file_doc(root: ts.Node) -> str:
    return t.file_comment(root, ("comment",))
