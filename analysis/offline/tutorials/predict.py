"""Exercise: read a real test up to its first check and predict what it asserts."""

from __future__ import annotations

from analysis.offline.languages import is_test_function, is_test_path
from analysis.offline.model import FileFacts
from analysis.offline.tutorials.common import Draft, Workshop, answer, split_node
from fondation.cancel import CancelToken

MAX_TEST_LINES = 40
CONTEXT_LINES = 12  # shown before a check that no test function encloses (it("...") blocks)
_OPENERS, _CLOSERS = "([{", ")]}"


def predict_drafts(shop: Workshop, cancel: CancelToken, limit: int = 2) -> list[Draft]:
    candidates: list[tuple[float, str, int, int, int, str]] = []
    for path, facts in shop.graph.facts.items():
        if not is_test_path(path) or not facts.asserts:
            continue
        cancel.check()
        for check in _first_checks(facts):
            start, scope = _enclosing(facts, check)
            if check <= start or not is_test_function(scope, facts.language):
                continue
            tested = _tested(shop, path, scope)
            if not tested:
                continue  # a test of nothing this course teaches
            score = sum(shop.weight(p) for p in tested) + (1.0 if scope else 0.0)
            candidates.append((-score, path, start, check, len(tested), scope))
    candidates.sort()
    drafts: list[Draft] = []
    used: set[str] = set()
    for _, path, start, check, _, scope in candidates:
        if path in used:
            continue
        used.add(path)
        drafts.append(_draft(shop, path, start, check, scope))
        if len(drafts) == limit:
            break
    return drafts


def _first_checks(facts: FileFacts) -> list[int]:
    """The first check inside each test function (or the first checks of the file)."""
    seen: set[str] = set()
    out: list[int] = []
    for line in facts.asserts:
        scope = _enclosing(facts, line)[1]
        if scope not in seen or not scope:
            seen.add(scope)
            out.append(line)
    return out[:20]


def _enclosing(facts: FileFacts, line: int) -> tuple[int, str]:
    inside = [
        s
        for s in facts.symbols
        if s.start < line <= s.end
        and s.kind in ("function", "method")
        and s.end - s.start < MAX_TEST_LINES
    ]
    if inside:
        best = max(inside, key=lambda s: s.start)
        return best.start, best.name
    return max(1, line - CONTEXT_LINES), ""


def _tested(shop: Workshop, path: str, scope: str) -> list[str]:
    """Code files the test calls into (through the call graph), else that it imports."""
    node = f"{path}::{scope}"
    calls = shop.graph.calls
    called = {split_node(n)[0] for n in calls.successors(node)} if node in calls else set()
    if not called:
        called = set(shop.graph.files.successors(path))
    return sorted(p for p in called if shop.is_code(p))


def _statement_end(lines: list[str], start: int) -> int:
    """The last line of the statement starting at ``start``: brackets balanced."""
    depth = 0
    for number in range(start, min(len(lines), start + 15) + 1):
        text = lines[number - 1]
        depth += sum(text.count(c) for c in _OPENERS) - sum(text.count(c) for c in _CLOSERS)
        if depth <= 0:
            return number
    return start


def _draft(shop: Workshop, path: str, start: int, check: int, scope: str) -> Draft:
    lines = shop.lines(path)
    end = _statement_end(lines, check)
    tested = _tested(shop, path, scope)
    name = scope or f"the code before line {check}"
    body = [
        f"Tests state what the authors of {shop.project} expect. This exercise shows a real "
        f"test from `{path}` up to its first check and asks you to predict that check.",
        "",
        "## Exercise",
        "",
        f"Read `{name}` ({shop.cite(path, start, check - 1)}):",
        "",
        *shop.excerpt(path, start, check - 1),
        "",
        f"The next line ({shop.cite(path, check)}) is a check. What does it compare, and which "
        "value does it expect? Decide before opening the answer.",
    ]
    if tested:
        body += [
            "",
            "The code under test lives in " + ", ".join(f"`{p}`" for p in tested[:4]) + ": "
            "reading it first helps.",
        ]
    body.append("")
    steps = [f"The check at {shop.cite(path, check, end)} is:", "", *shop.excerpt(path, check, end)]
    if tested:
        owners = sorted({o for o in map(shop.abstraction_of, tested) if o})
        if owners:
            steps += ["", "It pins down behaviour of " + ", ".join(f"`{o}`" for o in owners) + "."]
    return Draft(
        title=f"Predict what {scope or path} checks",
        slug=f"predict-{scope or path}",
        body=body + answer(steps),
        files=sorted({path, *tested[:4]}),
    )
