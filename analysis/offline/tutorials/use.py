"""Exercise: use the public API to do what one of the project's examples does.

The goal is what the example shows: the shell session the README prints after it, the
output a Go example promises, or else the sentence that introduces it. The names to use
are the public ones it calls, with their signatures; the answer is the example, cited.
"""

from __future__ import annotations

from analysis.offline.entry import public_names
from analysis.offline.languages import FENCE
from analysis.offline.markdown import code_block
from analysis.offline.showcase import Snippet
from analysis.offline.text import inline
from analysis.offline.tutorials.common import Draft, Workshop, answer

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
        drafts.append(_draft(shop, snippet, used, defined))

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
    shop: Workshop, snippet: Snippet, used: list[str], defined: dict[str, tuple[str, int, str]]
) -> Draft:
    path, facts = snippet.path, shop.graph.facts
    language = FENCE.get(facts[path].language, "") if path in facts else ""
    if not language:
        language = FENCE.get(facts[defined[used[0]][0]].language, "")
    body = [
        f"This exercise asks you to use the public API of {shop.project} the way "
        f"{snippet.title} does.",
        "",
        "## Exercise",
        "",
        *_goal(snippet),
        "",
        f"Write it yourself with these {len(used[:6])} public names:",
        "",
    ]
    for name in used[:6]:
        where, line, signature = defined[name]
        shown = inline(signature, 160).replace("`", "")
        body.append(f"- `{name}` ({shop.cite(where, line)}): `{shown}`")
    body.append("")
    title = snippet.title[:1].upper() + snippet.title[1:]
    solution = [
        f"{title}, at `{path}:{snippet.start}-{snippet.end}`:",
        "",
        *code_block(snippet.text, language),
    ]
    return Draft(
        title=f"Use {used[0]} as {snippet.title} does",
        slug=f"use-{used[0]}",
        body=body + answer(solution),
        files=sorted({path, *(defined[n][0] for n in used[:6])}),
    )


def _goal(snippet: Snippet) -> list[str]:
    """What to build: the run the README shows, the output a Go example promises, or the
    sentence that introduces the example."""
    if snippet.run:
        intro = "Goal: a program that runs like this session from the README:"
        return [intro, "", *code_block(snippet.run, "console")]
    output = expected_output(snippet.text)
    if output:
        return [
            f"Goal: a program that prints `{inline(' / '.join(output), 200).replace('`', '')}`."
        ]
    said = inline(snippet.context, 240) if snippet.context else f"what {snippet.title} does"
    return [f"Goal: {said.rstrip('.')}."]
