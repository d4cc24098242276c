"""Exercise: follow a real call path through three files, from the entry point when
one starts there."""

from __future__ import annotations

import networkx as nx

from analysis.offline.text import and_list, first_sentence, inline
from analysis.offline.tutorials.common import Draft, Workshop, answer, split_node
from fondation.cancel import CancelToken

ENTRY_BONUS = 10.0  # above any sum of PageRank weights
MAX_FANOUT = 25  # successors looked at per node: bounds the search on dense graphs


def trace_drafts(shop: Workshop, cancel: CancelToken, limit: int = 2) -> list[Draft]:
    drafts: list[Draft] = []
    starts: set[str] = set()
    for chain in _chains(shop, cancel):
        first_file = split_node(chain[0][0])[0]
        if first_file in starts:
            continue
        starts.add(first_file)
        drafts.append(_draft(shop, chain))
        if len(drafts) == limit:
            break
    return drafts


Hop = tuple[str, str, int]  # caller node, callee node, line of the call in the caller


def _chains(shop: Workshop, cancel: CancelToken) -> list[tuple[Hop, Hop]]:
    """Two calls a -> b -> c between three different code files, best first."""
    calls = shop.graph.calls
    found: list[tuple[float, Hop, Hop]] = []
    for a in sorted(calls):
        cancel.check()
        a_path, a_name = split_node(a)
        if not a_name or not shop.is_code(a_path):
            continue
        for b in sorted(calls.successors(a))[:MAX_FANOUT]:
            b_path = split_node(b)[0]
            if b_path == a_path or not shop.is_code(b_path):
                continue
            for source, c in _onward(calls, b):
                c_path = split_node(c)[0]
                if c_path in (a_path, b_path) or not shop.is_code(c_path):
                    continue
                score = sum(shop.weight(p) for p in (a_path, b_path, c_path))
                # A path from the entry point is the one a user's call takes.
                score += ENTRY_BONUS if a_path in shop.entry_files else 0.0
                first = (a, b, calls.edges[a, b]["line"])
                found.append((-score, first, (source, c, calls.edges[source, c]["line"])))
    found.sort()
    return [(first, second) for _, first, second in found]


def _onward(calls: nx.DiGraph, node: str) -> list[tuple[str, str]]:
    """Calls made by a function, or by a class's constructor when the node is a class."""
    sources = [n for n in (node, node + ".__init__") if n in calls]
    return [(s, c) for s in sources for c in sorted(calls.successors(s))[:MAX_FANOUT]]


def _draft(shop: Workshop, chain: tuple[Hop, Hop]) -> Draft:
    (a, b, _), (_, c, _) = chain
    a_path, a_name = split_node(a)
    c_path, c_name = split_node(c)
    files = sorted({a_path, split_node(b)[0], c_path})
    return Draft(
        title=f"Trace a call from {a_name} to {c_name}",
        slug=f"trace-{a_name}-{c_name}",
        body=_exercise(shop, chain, files) + answer(_solution(shop, chain)),
        files=files,
    )


def _span(shop: Workshop, node: str, fallback: int) -> tuple[int, int]:
    path, name = split_node(node)
    symbol = shop.graph.facts[path].symbol(name)
    return (symbol.start, symbol.end) if symbol else (fallback, fallback)


def _exercise(shop: Workshop, chain: tuple[Hop, Hop], files: list[str]) -> list[str]:
    (a, _, line_ab), _ = chain
    a_path, a_name = split_node(a)
    owners = sorted({o for o in map(shop.abstraction_of, files) if o})
    crossing = f", crossing {and_list([f'`{o}`' for o in owners])}." if owners else "."
    return [
        f"This exercise follows one real call path of {shop.project} through three files"
        + crossing,
        "Reading code this way, from a caller to what it relies on, is how you learn which "
        "module does which part of the work.",
        "",
        "## Exercise",
        "",
        f"Start at `{a_name}` in {shop.cite(a_path, *_span(shop, a, line_ab))}.",
        "",
        f"1. `{a_name}` calls something defined in another file. What does it call, and in "
        f"which file is that defined? The imports at the top of `{a_path}` tell you where the "
        "name comes from.",
        f"2. Open that definition. It calls into a third file (neither `{a_path}` nor the "
        "file of step 1). Which function or class does it call there?",
        "3. Write the path down as `caller -> callee -> callee` with a file and line for each.",
        "",
    ]


def _solution(shop: Workshop, chain: tuple[Hop, Hop]) -> list[str]:
    steps: list[str] = []
    for number, (caller, callee, line) in enumerate(chain, start=1):
        caller_path, caller_name = split_node(caller)
        callee_path, callee_name = split_node(callee)
        steps += [
            f"{number}. At {shop.cite(caller_path, line)}, `{caller_name}` calls `{callee_name}`:",
            "",
            *_indent(shop.excerpt(caller_path, line, line)),
            "",
            f"   `{callee_name}` is defined in {shop.cite(callee_path, *_span(shop, callee, 1))}.",
        ]
    names = [split_node(node) for node in (chain[0][0], chain[0][1], chain[1][1])]
    steps.append("3. The path: " + " -> ".join(f"`{n}` ({p})" for p, n in names) + ".")
    c_path, c_name = names[-1]
    c_symbol = shop.graph.facts[c_path].symbol(c_name)
    if c_symbol is not None and c_symbol.doc:
        steps += [
            "",
            f"`{c_name}` describes itself as: {inline(first_sentence(c_symbol.doc, 240))}",
        ]
    return steps


def _indent(lines: list[str]) -> list[str]:
    return ["   " + line if line else line for line in lines]
