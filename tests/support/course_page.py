"""A model of the web app's course page (``/course/<owner>/<repo>/<jobId>``), written
from what the page does, to check what a user sees of a job's docs.

The page reads ``docs.listByJobId`` (creation order), keeps one doc per title within a
kind (titles compared trimmed and lower-cased; the kept one has content, else a
``reviewed-`` slug, else the newest), lists the chapters by chapterIndex as
"<chapterIndex>. <title>", the tutorials in the order they came, and under
"Références" the yaml docs then the toc docs. A doc is opened by client state, not by a
URL of its own, so a relative Markdown link in its content leads nowhere.

Around the docs (``CourseView``): with no docs, an active job shows a "being generated"
card with "Étape {currentStep} sur {totalSteps}: {progress}" and any other job a 404;
with docs, a header with "{n} chapitres • {m} tutoriels", the status badge
(``getStatusDisplay``), the same step line and a progress bar only while the status is
``running``, and an error box ("Échec de la génération") for a ``failed`` job with an
``error``.
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


# getStatusDisplay's labels, by job status.
STATUS_LABELS = {
    "completed": "Terminé",
    "running": "Génération...",
    "claimed": "Réclamé par le worker...",
    "cloning": "Clonage du dépôt...",
    "analyzing": "Analyse en cours...",
    "gathering": "Collecte des données...",
    "failed": "Échoué",
    "dead": "Échoué",
    "canceled": "Annulé",
    "pending": "En attente",
}
ACTIVE = ("pending", "claimed", "cloning", "analyzing", "gathering", "running")


@dataclass(frozen=True)
class CourseView:
    """What the page shows for a job and its docs."""

    shows: str  # "generating" (the card), "not_found" (404) or "course"
    badge: str  # the status badge's label (shown on the card as an icon only)
    step_line: str | None  # "Étape k sur 6: <progress>", with its progress bar
    error_box: str | None  # the job's error, under "Échec de la génération"
    counts: str | None  # "<n> chapitres • <m> tutoriels"
    course: CoursePage | None

    @classmethod
    def of(cls, job: Doc, docs_in_creation_order: list[Doc]) -> CourseView:
        status = job.get("status")
        badge = STATUS_LABELS.get(str(status), "Inconnu")
        step = job.get("currentStep")
        line = None
        if step:
            total, progress = job.get("totalSteps") or 6, job.get("progress") or "En cours"
            line = f"Étape {step} sur {total}: {progress}"
        if not docs_in_creation_order:
            if status in ACTIVE:
                return cls("generating", badge, line, None, None, None)
            return cls("not_found", badge, None, None, None, None)
        page = CoursePage.of(docs_in_creation_order)
        error = job.get("error") if status == "failed" and job.get("error") else None
        counts = f"{len(page.chapters)} chapitres • {len(page.tutorials)} tutoriels"
        shown_line = line if status == "running" else None
        return cls("course", badge, shown_line, error, counts, page)
