"""Exercise: add an implementation of a real extension point (an abstract base class,
interface, Protocol or trait that the project already implements at least once)."""

from __future__ import annotations

from analysis.offline.graph import SymbolRef
from analysis.offline.languages import FENCE
from analysis.offline.markdown import code_block
from analysis.offline.model import Symbol
from analysis.offline.text import and_list, first_paragraph, join_names, plural
from analysis.offline.tutorials.common import Draft, Workshop, answer
from fondation.cancel import CancelToken

_KINDS = ("class", "interface", "trait")
EXCERPT_LINES = 30


MIN_IMPLEMENTATIONS = 2  # one implementation is a type, several make an extension point


def extend_drafts(shop: Workshop, cancel: CancelToken, limit: int = 1) -> list[Draft]:
    candidates: list[tuple[float, str, str, list[SymbolRef]]] = []
    for path, facts in shop.graph.facts.items():
        if not shop.is_code(path):
            continue
        cancel.check()
        for symbol in facts.top_level():
            if not symbol.abstract or symbol.kind not in _KINDS:
                continue
            impls = sorted(shop.graph.subclasses.get((path, symbol.name), set()))
            impls = [i for i in impls if shop.is_code(i[0])]
            if len(impls) >= MIN_IMPLEMENTATIONS:
                score = len(impls) + 10 * shop.weight(path)
                candidates.append((-score, path, symbol.name, impls))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    return [_draft(shop, path, name, impls) for _, path, name, impls in candidates[:limit]]


def _required(shop: Workshop, path: str, base: Symbol) -> list[Symbol]:
    members = [s for s in shop.graph.facts[path].symbols if s.name.startswith(base.name + ".")]
    return [s for s in members if s.abstract]


def _draft(shop: Workshop, path: str, name: str, impls: list[SymbolRef]) -> Draft:
    base = shop.graph.facts[path].symbol(name)
    if base is None:  # cannot happen: chosen from this file's symbols
        raise ValueError(f"{name} is not defined in {path}")
    return Draft(
        title=f"Implement {name}",
        slug=f"extend-{name}",
        body=_exercise(shop, path, base, impls) + answer(_solution(shop, path, base, impls)),
        files=sorted({path, *(i[0] for i in impls[:6])}),
    )


def _exercise(shop: Workshop, path: str, base: Symbol, impls: list[SymbolRef]) -> list[str]:
    body = [
        f"`{base.name}` ({shop.cite(path, base.start, base.end)}) is an extension point of "
        f"{shop.project}: "
        + (
            "one class in the project derives from it"
            if len(impls) == 1
            else f"{len(impls)} classes in the project derive from it"
        )
        + ", and code written against it accepts any of them.",
    ]
    if base.doc:
        body += ["", f"Its documentation says: {first_paragraph(base.doc, 500)}"]
    return [
        *body,
        "",
        "## Exercise",
        "",
        f"Plan a new implementation of `{base.name}`.",
        "",
        "1. Which members must your implementation provide? Give their signatures.",
        "2. Which existing implementation is the smallest one to learn from?",
        f"3. Which files refer to `{base.name}` by name, and so might need to know about yours?",
        "",
    ]


def _solution(shop: Workshop, path: str, base: Symbol, impls: list[SymbolRef]) -> list[str]:
    required = _required(shop, path, base)
    if required:
        language = shop.graph.facts[path].language
        cited = ", ".join(shop.cite(path, s.start, s.end) for s in required[:6])
        steps = [
            f"1. `{base.name}` leaves {plural(len(required), 'member')} to implementations "
            "(marked abstract, or raising a not-implemented error):",
            "",
            *_indent(code_block("\n".join(s.signature for s in required), FENCE.get(language, ""))),
            "",
            f"   Declared at {cited}.",
        ]
    else:
        steps = [f"1. `{base.name}` declares no abstract member; override what you need."]
    example_path, example_name = min(impls, key=lambda i: (_size(shop, *i), i))
    example = shop.graph.facts[example_path].symbol(example_name)
    steps += _example(shop, example_path, example_name, example)
    shown = [f"`{i[1]}` in `{i[0]}`" for i in impls[:8]]
    if len(impls) > 8:
        shown.append(f"{len(impls) - 8} more")
    steps.append(f"   All implementations: {and_list(shown)}.")
    users = sorted(shop.usage.users.get((path, base.name), frozenset()))
    steps.append(
        f"3. `{base.name}` is named in {plural(len(users), 'other file')}: {join_names(users, 8)}."
        if users
        else f"3. No other file names `{base.name}` directly: it is reached through instances."
    )
    return steps


def _example(shop: Workshop, path: str, name: str, symbol: Symbol | None) -> list[str]:
    if symbol is None:
        return [f"2. `{name}` in `{path}`."]
    end = min(symbol.end, symbol.start + EXCERPT_LINES - 1)
    return [
        f"2. The smallest is `{name}` ({shop.cite(path, symbol.start, symbol.end)}, "
        f"{plural(symbol.end - symbol.start + 1, 'line')}):",
        "",
        *_indent(shop.excerpt(path, symbol.start, end)),
        "",
    ]


def _size(shop: Workshop, path: str, name: str) -> int:
    symbol = shop.graph.facts[path].symbol(name)
    return symbol.end - symbol.start if symbol else 1 << 30


def _indent(lines: list[str]) -> list[str]:
    return ["   " + line if line else line for line in lines]
