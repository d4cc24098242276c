"""Python facts from the standard library's ``ast``: exact, and faster than a grammar."""

from __future__ import annotations

import ast
import threading
import warnings

from analysis.offline.model import FileFacts, ImportRef, Reference, Symbol
from analysis.offline.parsing.common import (
    attach_scopes,
    bound_heads,
    clip_doc,
    comment_text,
    one_line,
    split_lines,
)

_ABSTRACT_BASES = frozenset({"ABC", "Protocol"})
_ABSTRACT_DECORATORS = frozenset(
    {"abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod"}
)
_Def = ast.FunctionDef | ast.AsyncFunctionDef
_WARNINGS_LOCK = threading.Lock()


def parse_python(text: str) -> FileFacts:
    lines = split_lines(text)
    try:
        # Warnings about the analysed code's escapes concern its authors, not this run.
        # catch_warnings swaps process-wide state: the lock keeps two parses from
        # restoring each other's filters (parsing holds the GIL anyway).
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return FileFacts(language="python", lines=len(lines), doc=_leading_comment(lines))
    imports, calls, asserts = _walk(tree)
    symbols = _symbols(tree.body, lines, "")
    exports = _dunder_all(tree)
    if exports is not None:
        for symbol in symbols:
            if "." not in symbol.name and symbol.name not in exports:
                symbol.public = False
    heads = bound_heads(name for imp in imports for name in imp.bindings)
    # After ``from m import *`` any name may come from m: keep every call for the graph.
    refs = [r for r in calls if "*" in heads or r.name.split(".", 1)[0] in heads]
    refs += _inherit_refs(symbols, heads)
    return FileFacts(
        language="python",
        lines=len(lines),
        doc=clip_doc(ast.get_docstring(tree) or "") or _leading_comment(lines),
        exports=exports,
        symbols=symbols,
        imports=imports,
        references=attach_scopes(symbols, refs),
        asserts=sorted(set(asserts)),
    )


def _walk(tree: ast.Module) -> tuple[list[ImportRef], list[Reference], list[int]]:
    """One pass over every node: imports anywhere (also inside functions), calls, asserts."""
    imports: list[ImportRef] = []
    calls: list[Reference] = []
    asserts: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name:
                calls.append(Reference(kind="call", name=name, line=node.lineno))
        elif isinstance(node, ast.Import):
            imports.extend(_plain_import(node))
        elif isinstance(node, ast.ImportFrom):
            imports.append(_from_import(node))
        elif isinstance(node, ast.Assert):
            asserts.append(node.lineno)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            calls += _typed_names(node)
        elif isinstance(node, ast.AnnAssign):
            calls += _names_in(node.annotation, node.lineno)
    imports.sort(key=lambda i: (i.line, i.spec))
    return imports, calls, asserts


def _typed_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Reference]:
    """Types a function names in its signature: annotations and default values
    (``renderer_cls: Callable[..., RendererProtocol] = RendererHTML``)."""
    args = node.args
    parts: list[ast.expr | None] = [node.returns, *args.defaults, *args.kw_defaults]
    parts += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    parts += [a.annotation for a in (args.vararg, args.kwarg) if a is not None]
    return [r for part in parts if part is not None for r in _names_in(part, node.lineno)]


def _names_in(expression: ast.expr, line: int) -> list[Reference]:
    found: list[Reference] = []
    for inner in ast.walk(expression):
        if isinstance(inner, ast.Name | ast.Attribute):
            name = dotted(inner)
            if name and not isinstance(getattr(inner, "ctx", None), ast.Store):
                found.append(Reference(kind="type", name=name, line=line))
    return found


def _plain_import(node: ast.Import) -> list[ImportRef]:
    # ``import a.b`` binds ``a`` but code then writes ``a.b.f()``: keep the dotted name
    # so a reference can be matched against it by longest prefix.
    return [
        ImportRef(spec=alias.name, line=node.lineno, bindings={alias.asname or alias.name: ""})
        for alias in node.names
    ]


def _from_import(node: ast.ImportFrom) -> ImportRef:
    spec = "." * node.level + (node.module or "")
    bindings = {alias.asname or alias.name: alias.name for alias in node.names}
    return ImportRef(spec=spec, line=node.lineno, bindings=bindings)


def dotted(node: ast.expr) -> str:
    """``a.b.c`` for a chain of attribute lookups on a name, else ""."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _symbols(body: list[ast.stmt], lines: list[str], owner: str) -> list[Symbol]:
    out: list[Symbol] = []
    for node in _definitions(body, nested=not owner):
        if isinstance(node, ast.ClassDef):
            out.extend(_class(node, lines, owner))
        else:
            out.append(_function(node, lines, owner))
    return out


def _definitions(body: list[ast.stmt], nested: bool) -> list[ast.ClassDef | _Def]:
    """Definitions in a body, looking one level into module-level ``if``/``try`` blocks
    (``if TYPE_CHECKING:``, optional-dependency fallbacks)."""
    found: list[ast.ClassDef | _Def] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_overload(node):
            continue  # a typing stub: the implementation that follows is the definition
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node)
        elif nested and isinstance(node, ast.If | ast.Try):
            blocks = [node.body, node.orelse]
            if isinstance(node, ast.Try):
                blocks += [h.body for h in node.handlers] + [node.finalbody]
            for block in blocks:
                found += [
                    n
                    for n in block
                    if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                ]
    return found


def _is_overload(node: _Def) -> bool:
    return any(dotted(d).rsplit(".", 1)[-1] == "overload" for d in node.decorator_list)


def _class(node: ast.ClassDef, lines: list[str], owner: str) -> list[Symbol]:
    name = f"{owner}.{node.name}" if owner else node.name
    bases = [b for b in (dotted(base) for base in node.bases) if b]
    members = _symbols(node.body, lines, name) if not owner else []
    protocol = any(b.rsplit(".", 1)[-1] == "Protocol" for b in bases)
    if protocol:
        for member in members:
            member.abstract = member.kind == "method"
    abstract = (
        any(b.rsplit(".", 1)[-1] in _ABSTRACT_BASES for b in bases)
        or any(dotted(k.value).endswith("ABCMeta") for k in node.keywords)
        or any(m.abstract for m in members)
    )
    symbol = Symbol(
        name=name,
        kind="class",
        start=_first_line(node),
        end=node.end_lineno or node.lineno,
        signature=_signature(node, lines),
        doc=clip_doc(ast.get_docstring(node) or ""),
        bases=bases,
        abstract=abstract,
        public=_public(node.name),
    )
    return [symbol, *members]


def _function(node: _Def, lines: list[str], owner: str) -> Symbol:
    return Symbol(
        name=f"{owner}.{node.name}" if owner else node.name,
        kind="method" if owner else "function",
        start=_first_line(node),
        end=node.end_lineno or node.lineno,
        signature=_signature(node, lines),
        doc=clip_doc(ast.get_docstring(node) or ""),
        abstract=bool(owner) and _is_abstract_method(node),
        public=_public(node.name),
    )


def _first_line(node: ast.ClassDef | _Def) -> int:
    """Where the definition starts to read: its first decorator, else its keyword."""
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _is_abstract_method(node: _Def) -> bool:
    if any(dotted(d).rsplit(".", 1)[-1] in _ABSTRACT_DECORATORS for d in node.decorator_list):
        return True
    body = [s for s in node.body if not _is_docstring(s)]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    target = exc.func if isinstance(exc, ast.Call) else exc
    return dotted(target) == "NotImplementedError"


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _signature(node: ast.ClassDef | _Def, lines: list[str]) -> str:
    """The header as written, from ``def``/``class`` to the colon before the body."""
    first = node.body[0]
    start_row, end_row = node.lineno - 1, first.lineno - 1
    if start_row == end_row:
        text = _columns(lines[start_row], node.col_offset, first.col_offset)
    else:
        parts = [_columns(lines[start_row], node.col_offset, None)]
        parts += lines[start_row + 1 : end_row]
        if end_row < len(lines):
            parts.append(_columns(lines[end_row], 0, first.col_offset))
        text = "\n".join(_strip_comment(p) for p in parts)
    return one_line(text).rstrip(":").rstrip()


def _columns(line: str, start: int, end: int | None) -> str:
    # ast's column offsets count UTF-8 bytes, not characters.
    return line.encode("utf-8")[start:end].decode("utf-8", errors="replace")


def _strip_comment(line: str) -> str:
    hash_at = line.find("#")
    # A '#' after a quote may sit inside a default value; keep such lines whole.
    if hash_at < 0 or "'" in line[:hash_at] or '"' in line[:hash_at]:
        return line
    return line[:hash_at]


def _inherit_refs(symbols: list[Symbol], heads: set[str]) -> list[Reference]:
    return [
        Reference(kind="inherit", name=base, line=symbol.start, scope=symbol.name)
        for symbol in symbols
        for base in symbol.bases
        if base.split(".", 1)[0] in heads
    ]


def _dunder_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            return sorted(
                e.value
                for e in node.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    return None


def _leading_comment(lines: list[str]) -> str:
    block: list[str] = []
    for line in lines[:40]:
        stripped = line.strip()
        if stripped.startswith("#!") or (stripped.startswith("#") and "coding" in stripped[:25]):
            continue
        if not stripped.startswith("#"):
            if block or stripped:
                break
            continue
        block.append(stripped)
    return comment_text("\n".join(block))
