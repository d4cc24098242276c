"""A multiple-choice quiz whose every question and answer comes from the code."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from tasks.engines.offline.tutorials.common import Draft, Workshop, answer

LETTERS = "ABCD"
MAX_WHERE_QUESTIONS = 3


@dataclass
class Question:
    text: str
    options: list[str]
    correct: str
    explanation: str


def quiz_drafts(shop: Workshop) -> list[Draft]:
    questions = _where_defined(shop) + _depends_on(shop) + _importers(shop)
    if len(questions) < 2:
        return []
    body = [
        f"{len(questions)} questions, no code to write: each asks where things live in "
        f"{shop.project} or how its parts depend on each other. The answers cite the code.",
        "",
        "## Questions",
        "",
    ]
    steps: list[str] = []
    for n, question in enumerate(questions, start=1):
        body += [f"{n}. {question.text}", ""]
        body += [f"   - {LETTERS[i]}. {option}" for i, option in enumerate(question.options)]
        body.append("")
        letter = LETTERS[question.options.index(question.correct)]
        steps.append(f"{n}. **{letter}**: {question.correct}. {question.explanation}")
    files = sorted({a.files[0] for a in shop.abstractions.abstractions})
    return [
        Draft(
            title=f"Quiz: the map of {shop.project}",
            slug="quiz",
            body=body + answer(steps),
            files=files,
        )
    ]


def _where_defined(shop: Workshop) -> list[Question]:
    abstractions = [a for a in shop.abstractions.abstractions if a.symbols]
    everyone = sorted({f for a in shop.abstractions.abstractions for f in a.files})
    questions: list[Question] = []
    for abstraction in abstractions[:MAX_WHERE_QUESTIONS]:
        name = abstraction.symbols[0]
        home = next((f for f in abstraction.files if _defines(shop, f, name)), None)
        if home is None:
            continue
        others = [f for f in everyone if f not in abstraction.files and not _defines(shop, f, name)]
        distractors = _spread(others, name)
        if len(distractors) < 2:
            continue
        symbol = shop.graph.facts[home].symbol(name)
        where = shop.cite(home, symbol.start, symbol.end) if symbol else f"`{home}`"
        questions.append(
            Question(
                text=f"Which file defines `{name}`?",
                options=sorted([f"`{home}`", *(f"`{d}`" for d in distractors)]),
                correct=f"`{home}`",
                explanation=f"It is defined at {where}, part of `{abstraction.name}`.",
            )
        )
    return questions


def _defines(shop: Workshop, path: str, name: str) -> bool:
    facts = shop.graph.facts.get(path)
    return facts is not None and facts.symbol(name) is not None


def _depends_on(shop: Workshop) -> list[Question]:
    if shop.relationships is None:
        return []
    names = {a.id: a.name for a in shop.abstractions.abstractions}
    for abstraction in shop.abstractions.abstractions:
        rels = [
            r
            for r in shop.relationships.relationships
            if r.source == abstraction.id and r.target != abstraction.id and r.target in names
        ]
        targets = {r.target for r in rels}
        others = [i for i in names if i not in targets and i != abstraction.id]
        if not rels or len(others) < 2:
            continue
        best = max(rels, key=lambda r: (len(r.citations), r.target))
        where = ", ".join(shop.cite(c.path, c.start_line, c.end_line) for c in best.citations[:2])
        correct = f"`{names[best.target]}`"
        return [
            Question(
                text=f"`{abstraction.name}` depends on one of these abstractions. Which?",
                options=sorted([correct, *(f"`{names[o]}`" for o in others[:3])]),
                correct=correct,
                explanation=f"The dependency is: {best.label}"
                + (f" (see {where})." if where else "."),
            )
        ]
    return []


def _importers(shop: Workshop) -> list[Question]:
    code = [p for p in shop.graph.facts if shop.is_code(p)]
    if not code:
        return []
    target = max(code, key=lambda p: (len(shop.graph.importers(p)), p))
    count = len(shop.graph.importers(target))
    if count < 2:
        return []
    wrong = sorted({count // 2, count + max(2, count // 3), count * 2, count + 1} - {count, 0})
    options = sorted([count, *wrong[:3]])
    importers = shop.graph.importers(target)
    return [
        Question(
            text=f"How many files of the project depend on `{target}` directly?",
            options=[str(o) for o in options],
            correct=str(count),
            explanation="It is the most depended-upon file; among its dependents: "
            + ", ".join(f"`{p}`" for p in importers[:4])
            + ("…" if count > 4 else "")
            + ".",
        )
    ]


def _spread(items: list[str], seed: str) -> list[str]:
    """Three items spread over the list, starting at a point fixed by ``seed`` so that
    questions do not all share the same wrong answers."""
    if len(items) <= 3:
        return list(items)
    step = len(items) // 3
    offset = zlib.crc32(seed.encode()) % step
    return [items[offset + k * step] for k in range(3)]
