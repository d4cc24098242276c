"""Exercise: use the public API to do what one of the project's examples does.

The goal is the example's own words (the sentence that introduces it in the README, or
the example's comment); the names to use are the public ones it calls, with their
signatures; the answer is the example itself, cited.
"""

from __future__ import annotations

from tasks.engines.offline.entry import public_names
from tasks.engines.offline.languages import FENCE
from tasks.engines.offline.markdown import code_block
from tasks.engines.offline.text import inline
from tasks.engines.offline.tutorials.common import Draft, Workshop, answer

MIN_NAMES = 1  # an example that uses none of the project's names teaches nothing of it


def use_drafts(shop: Workshop, limit: int = 2) -> list[Draft]:
    defined: dict[str, tuple[str, int, str]] = {}  # name -> (path, line, signature)
    for abstraction in shop.abstractions.abstractions:
        names = public_names(abstraction, shop.graph)
        for path in abstraction.files:
            for symbol in shop.graph.facts[path].top_level() if path in shop.graph.facts else []:
                if symbol.name in names:
                    defined.setdefault(symbol.name, (path, symbol.start, symbol.signature))
    drafts: list[Draft] = []
    for snippet in shop.showcase.snippets:
        used = [n for n in snippet.names if n in defined]
        if len(used) < MIN_NAMES:
            continue
        drafts.append(_draft(shop, snippet.path, snippet.start, snippet.end, snippet.title,
                             snippet.context, snippet.text, used, defined))  # fmt: skip
        if len(drafts) == limit:
            break
    return drafts


def expected_output(text: str) -> list[str]:
    """The lines a Go example promises to print (its ``// Output:`` comment)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() in ("// Output:", "// Unordered output:"):
            tail = [x.strip() for x in lines[i + 1 :]]
            said = [x[2:].strip() for x in tail if x.startswith("//")]
            return [x for x in said if x][:4]
    return []


def _draft(
    shop: Workshop,
    path: str,
    start: int,
    end: int,
    title: str,
    context: str,
    text: str,
    used: list[str],
    defined: dict[str, tuple[str, int, str]],
) -> Draft:
    language = FENCE.get(shop.graph.facts[path].language, "") if path in shop.graph.facts else ""
    if not language:
        language = FENCE.get(shop.graph.facts[defined[used[0]][0]].language, "")
    output = expected_output(text)
    if output:
        goal = f"a program that prints `{inline(' / '.join(output), 200).replace('`', '')}`"
    else:
        goal = inline(context, 240) if context else f"what {title} does"
    body = [
        f"This exercise asks you to use the public API of {shop.project} the way {title} does.",
        "",
        "## Exercise",
        "",
        f"Goal: {goal}.",
        "",
        f"Write it yourself with these {len(used[:6])} public names:",
        "",
    ]
    for name in used[:6]:
        where, line, signature = defined[name]
        body.append(
            f"- `{name}` ({shop.cite(where, line)}): `{inline(signature, 160).replace('`', '')}`"
        )
    body.append("")
    solution = [
        f"{title[:1].upper()}{title[1:]}, at `{path}:{start}-{end}`:",
        "",
        *code_block(text, language),
    ]
    return Draft(
        title=f"Use {used[0]} as {title} does",
        slug=f"use-{used[0]}",
        body=body + answer(solution),
        files=sorted({path, *(defined[n][0] for n in used[:6])}),
    )
