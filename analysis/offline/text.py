"""Small prose helpers: sentences from docstrings, lists of names, slugs, Markdown escapes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_ROLE = re.compile(r":[\w:.-]+:`~?!?([^`<]+?)(?:\s*<[^>]*>)?`")  # :class:`~a.B` -> `a.B`
_DOUBLE_TICKS = re.compile(r"``([^`]+)``")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def clean_doc(doc: str) -> str:
    """Docstring markup (reStructuredText roles, double backticks) turned into Markdown."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).strip()}`", doc)
    return _DOUBLE_TICKS.sub(r"`\1`", text)


def first_paragraph(doc: str, limit: int = 600) -> str:
    paragraph = clean_doc(doc).strip().split("\n\n", 1)[0]
    return inline(paragraph, limit)


def first_sentence(doc: str, limit: int = 200) -> str:
    paragraph = first_paragraph(doc, limit * 3)
    sentence = _SENTENCE_END.split(paragraph, maxsplit=1)[0] if paragraph else ""
    sentence = inline(sentence, limit)
    if sentence and sentence[-1] not in ".!?…:":
        sentence += "."
    return sentence


def inline(text: str, limit: int = 600) -> str:
    """One line of Markdown-safe prose: no line-leading '#', no code fences."""
    flat = _SPACES.sub(" ", text).strip().replace("```", "'''")
    if len(flat) > limit:
        flat = flat[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    if flat.count("`") % 2:
        flat = flat.replace("`", "'")  # an unbalanced backtick would swallow the rest
    return "\\" + flat if flat.startswith(("#", ">", "-", "+", "*", "|")) else flat


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def join_names(names: Sequence[str], limit: int = 6, conjunction: str = "and") -> str:
    """``a``, ``b`` and 3 more: names are shown as code."""
    shown = [f"`{n}`" for n in names[:limit]]
    hidden = len(names) - len(shown)
    if hidden > 0:
        shown.append(f"{hidden} more")
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {conjunction} {shown[-1]}"


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG_JUNK.sub("-", ascii_name.lower()).strip("-")
    return slug or "root"


def unique_slug(name: str, taken: set[str]) -> str:
    base = slugify(name)
    slug, counter = base, 2
    while slug in taken:
        slug, counter = f"{base}-{counter}", counter + 1
    taken.add(slug)
    return slug


def code(name: str) -> str:
    return f"`{name.replace('`', '')}`"


def and_list(items: Sequence[str]) -> str:
    """``a, b and c`` for items already formatted."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
