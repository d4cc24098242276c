"""Go facts: package, imports, functions, methods (as ``Type.Method``), types."""

from __future__ import annotations

import tree_sitter as ts

from analysis.offline.model import FileFacts, ImportRef, Reference, Symbol
from analysis.offline.parsing import treesitter as t
from analysis.offline.parsing.common import attach_scopes, split_lines

_CALLS = "(call_expression function: [(identifier) (selector_expression)] @callee)"
_TYPES = "(type_identifier) @type"
_BUILTIN_TYPES = frozenset(
    {
        "bool",
        "byte",
        "complex64",
        "complex128",
        "error",
        "float32",
        "float64",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "rune",
        "string",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
        "any",
        "comparable",
    }
)
_ASSERT_HEADS = ("t", "b", "assert", "require")
_ASSERT_METHODS = ("Error", "Fatal", "Equal", "NotEqual", "True", "False", "Nil", "NoError")


def parse_go(text: str) -> FileFacts:
    source = text.encode("utf-8")
    root = t.parse("go", source).root_node
    package = ""
    doc = t.file_comment(root, ("comment",))
    imports: list[ImportRef] = []
    symbols: list[Symbol] = []
    for node in root.named_children:
        if node.type == "package_clause":
            package = t.text(node.named_children[0]) if node.named_children else ""
            doc = t.leading_doc(node) or doc  # Go's package comment sits on the clause
        elif node.type == "import_declaration":
            imports += _imports(node)
        elif node.type in ("function_declaration", "method_declaration"):
            symbols.append(_function(node, source))
        elif node.type == "type_declaration":
            for spec in node.named_children:
                if spec.type in ("type_spec", "type_alias"):
                    symbols += _type(spec, node, source)
    heads = {name for imp in imports for name in imp.bindings}
    refs, asserts = _calls(root, heads)
    refs += _types(root)
    # Embedded types: imported ones by their package, local ones by name (same package).
    refs += [
        Reference(kind="inherit", name=base, line=s.start, scope=s.name)
        for s in symbols
        for base in s.bases
    ]
    return FileFacts(
        language="go",
        lines=len(split_lines(text)),
        doc=doc,
        package=package,
        symbols=symbols,
        imports=imports,
        references=attach_scopes(symbols, refs),
        asserts=asserts,
    )


def _imports(node: ts.Node) -> list[ImportRef]:
    out: list[ImportRef] = []
    for spec in node.named_children:
        specs = spec.named_children if spec.type == "import_spec_list" else [spec]
        for item in specs:
            if item.type != "import_spec":
                continue
            path = t.text(t.field(item, "path")).strip('"`')
            alias = t.text(t.field(item, "name")) or path.rsplit("/", 1)[-1]
            # A dot import puts the package's names in scope; '_' binds nothing.
            bindings = {"*": "*"} if alias == "." else {} if alias == "_" else {alias: ""}
            out.append(ImportRef(spec=path, line=t.first_line(item), bindings=bindings))
    return out


def _function(node: ts.Node, source: bytes) -> Symbol:
    name = t.text(t.field(node, "name"))
    receiver = _receiver_type(t.field(node, "receiver"))
    return Symbol(
        name=f"{receiver}.{name}" if receiver else name,
        kind="method" if receiver else "function",
        start=t.first_line(node),
        end=t.last_line(node),
        signature=t.header(node, t.field(node, "body"), source),
        doc=t.leading_doc(node),
        public=name[:1].isupper(),
    )


def _receiver_type(receiver: ts.Node | None) -> str:
    for parameter in t.named(receiver):
        kind = t.field(parameter, "type")
        raw = t.text(kind).lstrip("*")
        return raw.split("[", 1)[0]  # generic receivers: Stack[T]
    return ""


def _type(spec: ts.Node, outer: ts.Node, source: bytes) -> list[Symbol]:
    name = t.text(t.field(spec, "name"))
    body = t.field(spec, "type")
    kind = {"struct_type": "struct", "interface_type": "interface"}.get(
        body.type if body else "", "type"
    )
    members: list[Symbol] = []
    bases: list[str] = []
    if body is not None and kind == "interface":
        found = (_interface_method(m, name, source) for m in body.named_children)
        members = [m for m in found if m is not None]
    elif body is not None and kind == "struct":
        bases = _embedded(body)
    symbol = Symbol(
        name=name,
        kind=kind,
        start=t.first_line(outer if len(outer.named_children) == 1 else spec),
        end=t.last_line(spec),
        signature=f"type {name} {kind}"
        if kind != "type"
        else "type " + t.header(spec, None, source),
        doc=t.leading_doc(outer if len(outer.named_children) == 1 else spec),
        bases=bases,
        abstract=kind == "interface",
        public=name[:1].isupper(),
    )
    return [symbol, *members]


def _interface_method(node: ts.Node, owner: str, source: bytes) -> Symbol | None:
    if node.type not in ("method_elem", "method_spec"):
        return None
    return Symbol(
        name=f"{owner}.{t.text(t.field(node, 'name'))}",
        kind="method",
        start=t.first_line(node),
        end=t.last_line(node),
        signature=t.header(node, None, source),
        doc=t.leading_doc(node),
        abstract=True,
        public=t.text(t.field(node, "name"))[:1].isupper(),
    )


def _embedded(struct: ts.Node) -> list[str]:
    """Embedded fields (a type with no field name): Go's form of inheritance."""
    bases: list[str] = []
    for fields in struct.named_children:
        for declaration in fields.named_children:
            if declaration.type == "field_declaration" and t.field(declaration, "name") is None:
                bases.append(t.text(t.field(declaration, "type")).lstrip("*"))
    return bases


def _calls(root: ts.Node, heads: set[str]) -> tuple[list[Reference], list[int]]:
    refs: list[Reference] = []
    asserts: set[int] = set()
    for node in t.captures("go", _CALLS, root).get("callee", []):
        name = t.dotted_name(t.text(node))
        if not name:
            continue
        head, _, rest = name.partition(".")
        if head in _ASSERT_HEADS and rest.startswith(_ASSERT_METHODS):
            asserts.add(t.first_line(node))
        # A bare name may be a function of another file of the same package.
        if head in heads or "*" in heads or not rest:
            refs.append(Reference(kind="call", name=name, line=t.first_line(node)))
    return refs, sorted(asserts)


def _types(root: ts.Node) -> list[Reference]:
    """Local type names used in the file (``pkg.Type`` counts through its import)."""
    refs: list[Reference] = []
    for node in t.captures("go", _TYPES, root).get("type", []):
        parent = node.parent
        if parent is not None and (
            parent.type == "qualified_type"
            or (parent.type in ("type_spec", "type_alias") and t.field(parent, "name") == node)
        ):
            continue
        name = t.text(node)
        if name and name not in _BUILTIN_TYPES:
            refs.append(Reference(kind="type", name=name, line=t.first_line(node)))
    return refs
