"""A course as a diff of the repository's previous one: the web app's
``regenerationStats`` {inserted, updated, skipped, rejected, deleted}, with the meanings
its ``docs.upsertFromJob`` gives them: inserted (a doc the previous course did not
have), updated (the same doc, its content or place changed), skipped (the same doc,
unchanged), rejected (a chapter or tutorial with empty content, never stored), deleted
(a doc of the previous course that this one no longer has).

A doc is "the same doc" when it has the same stable key: its kind and its slug without
the index (``03-cart`` and ``04-cart`` are one chapter moved). The previous course is
kept as a small digest of each doc (key, index, hash of the content), not the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from store.records import DocSpec

# "03-cart" -> "cart", "tutorial-02-discounts" -> "tutorial-discounts".
_INDEX = re.compile(r"(^|-)\d{2,}-")

CourseDigest = dict[str, list[int | str]]  # key -> [chapterIndex, content hash]
# The reuse record ("step" kind) that holds a job's course digest, one per job.
COURSE_KEY = "course"


def doc_key(doc: DocSpec) -> str:
    slug = _INDEX.sub(r"\1", doc.slug, count=1)
    return f"{doc.kind}:{slug}"


def rejected(doc: DocSpec) -> bool:
    return doc.kind in ("chapter", "tutorial") and not doc.content.strip()


def course_digest(docs: Sequence[DocSpec]) -> CourseDigest:
    return {
        doc_key(d): [d.chapter_index, hashlib.sha256(d.content.encode("utf-8")).hexdigest()[:32]]
        for d in docs
        if not rejected(d)
    }


def regeneration_stats(previous: CourseDigest | None, docs: Sequence[DocSpec]) -> dict[str, int]:
    """The web's counts for ``docs`` against the ``previous`` course (None: there was
    none, so every doc is inserted)."""
    before = previous or {}
    now = course_digest(docs)
    stats = {"inserted": 0, "updated": 0, "skipped": 0, "rejected": 0, "deleted": 0}
    stats["rejected"] = sum(1 for d in docs if rejected(d))
    for key, value in now.items():
        if key not in before:
            stats["inserted"] += 1
        elif list(before[key]) == list(value):
            stats["skipped"] += 1
        else:
            stats["updated"] += 1
    stats["deleted"] = sum(1 for key in before if key not in now)
    return stats


def parse_digest(value: str) -> CourseDigest | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): list(v) for k, v in data.items() if isinstance(v, list)}
