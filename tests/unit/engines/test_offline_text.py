"""Prose helpers: docstring markup, Markdown safety, slugs."""

from __future__ import annotations

from analysis.offline.text import first_paragraph, first_sentence, inline, unique_slug


def test_docstring_roles_become_inline_code() -> None:
    doc = "Wrap :class:`~celery.app.task.Task` with ``retry``.\n\nDetails follow."
    assert first_paragraph(doc) == "Wrap `celery.app.task.Task` with `retry`."
    assert first_sentence("Get it. Then more.") == "Get it."
    assert first_sentence("No final stop") == "No final stop."


def test_inline_text_cannot_open_headings_fences_or_code_spans() -> None:
    assert inline("# Title\nmore") == "\\# Title more"
    assert inline("see ```code```") == "see '''code'''"
    assert inline("an `unbalanced tick") == "an 'unbalanced tick"
    assert inline("word " * 200, limit=20).endswith("…")


def test_slugs_are_ascii_and_unique() -> None:
    taken: set[str] = set()
    names = ("Données.Modèles", "donnees/modeles", "!!")
    assert [unique_slug(n, taken) for n in names] == [
        "donnees-modeles",
        "donnees-modeles-2",
        "root",
    ]
