"""The course as a diff of the previous one: the web's regenerationStats."""

from __future__ import annotations

from analysis.course.regeneration import course_digest, doc_key, regeneration_stats
from store.records import DocKind, DocSpec


def _doc(slug: str, content: str, kind: DocKind = "chapter", index: int = 1) -> DocSpec:
    return DocSpec(slug=slug, title=slug, chapter_index=index, kind=kind, content=content)


def test_a_first_course_inserts_every_doc() -> None:
    docs = [_doc("01-cart", "a"), _doc("tutorial-01-tax", "t", "tutorial")]
    assert regeneration_stats(None, docs) == {
        "inserted": 2, "updated": 0, "skipped": 0, "rejected": 0, "deleted": 0
    }  # fmt: skip


def test_unchanged_docs_are_skipped_changed_ones_updated_and_gone_ones_deleted() -> None:
    before = course_digest(
        [_doc("01-cart", "a"), _doc("02-pay", "b", index=2), _doc("03-old", "c")]
    )
    now = [
        _doc("01-cart", "a"),
        _doc("02-pay", "B", index=2),
        _doc("03-new", "d"),
        _doc("04-x", " "),
    ]
    assert regeneration_stats(before, now) == {
        "inserted": 1, "updated": 1, "skipped": 1, "rejected": 1, "deleted": 1
    }  # fmt: skip


def test_a_chapter_keeps_its_key_when_its_index_moves() -> None:
    assert doc_key(_doc("03-cart", "x")) == doc_key(_doc("04-cart", "x")) == "chapter:cart"
    assert doc_key(_doc("tutorial-02-tax", "x", "tutorial")) == "tutorial:tutorial-tax"
    moved = regeneration_stats(course_digest([_doc("03-cart", "x", index=3)]),
                               [_doc("04-cart", "x", index=4)])  # fmt: skip
    assert moved["updated"] == 1
