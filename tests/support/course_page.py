"""A model of the web app's course page (``/course/<owner>/<repo>/<jobId>``), written
from what the page does, to check what a user sees of a job's docs.

The page reads ``docs.listByJobId`` (creation order), keeps one doc per title within a
kind (titles compared trimmed and lower-cased; the kept one has content, else a
``reviewed-`` slug, else the newest), lists the chapters by chapterIndex as
"<chapterIndex>. <title>", the tutorials in the order they came, and under
"Références" the yaml docs then the toc docs. A doc is opened by client state, not by a
URL of its own, so a relative Markdown link in its content leads nowhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]

# [text](target) whose target is a relative path to a Markdown file.
_RELATIVE_MD_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|/|#)([^)\s]+\.md)(#[^)]*)?\)", re.I)


def _better(kept: Doc, other: Doc) -> bool:
    """Whether the page keeps ``kept`` over ``other`` (same title, same kind)."""
    if bool(kept["content"]) != bool(other["content"]):
        return bool(kept["content"])
    kept_reviewed, other_reviewed = "reviewed-" in kept["slug"], "reviewed-" in other["slug"]
    if kept_reviewed != other_reviewed:
        return kept_reviewed
    return bool(kept.get("createdAt", 0) >= other.get("createdAt", 0))


def _dedupe(docs: list[Doc]) -> list[Doc]:
    seen: dict[str, Doc] = {}
    for doc in docs:
        title = doc["title"].strip().lower()
        if title not in seen or not _better(seen[title], doc):
            seen[title] = doc
    return list(seen.values())


@dataclass(frozen=True)
class CoursePage:
    chapters: list[Doc]
    tutorials: list[Doc]
    references: list[Doc]

    @classmethod
    def of(cls, docs_in_creation_order: list[Doc]) -> CoursePage:
        def kind(name: str) -> list[Doc]:
            return _dedupe([d for d in docs_in_creation_order if d["kind"] == name])

        return cls(
            chapters=sorted(kind("chapter"), key=lambda d: d["chapterIndex"]),
            tutorials=kind("tutorial"),
            references=kind("yaml") + kind("toc"),
        )

    def chapter_titles(self) -> list[str]:
        return [f"{d['chapterIndex']}. {d['title']}" for d in self.chapters]

    def shown(self) -> list[Doc]:
        return self.chapters + self.tutorials + self.references


def relative_md_links(content: str) -> list[str]:
    """The relative ``.md`` link targets in a doc's content: broken on the page."""
    return [m.group(1) for m in _RELATIVE_MD_LINK.finditer(content)]
