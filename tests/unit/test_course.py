"""The docs of a finished run, as the web app's course page lists and renders them."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Artifact,
    Chapter,
    ChaptersArtifact,
    CloneArtifact,
    OrderArtifact,
    Relationship,
    RelationshipsArtifact,
    ReviewArtifact,
    Tutorial,
    TutorialsArtifact,
)
from analysis.course.course import CourseTitles, EmptyDoc, build_docs, chapter_docs, write_docs
from analysis.course.markdown import MAX_DOC_BYTES
from fondation.errors import PermanentError
from store.records import DocSpec


def _artifacts(chapters: list[Chapter], tutorials: list[Tutorial]) -> dict[int, Artifact]:
    abstractions = AbstractionsArtifact(
        project_name="shop",
        summary="A shop.",
        abstractions=[
            Abstraction(id="cart", name="Cart", summary="s", files=["cart.py"]),
            Abstraction(id="core", name="Core", summary="s", files=["core.py"]),
        ],
        skipped={f"vendor/{i}.js": "vendored" for i in range(500)},
    )
    rels = RelationshipsArtifact(
        summary="r", relationships=[Relationship(source="cart", target="core", label="calls")]
    )
    return {
        0: CloneArtifact(url="u", ref=None, commit="c" * 40, files=2, bytes=10),
        1: abstractions,
        2: rels,
        3: OrderArtifact(order=["core", "cart"]),
        4: ChaptersArtifact(chapters=chapters),
        5: ReviewArtifact(chapters=chapters),
        6: TutorialsArtifact(tutorials=tutorials),
    }


def _build(artifacts: dict[int, Artifact], titles: CourseTitles | None = None) -> list[DocSpec]:
    return build_docs(artifacts, repository_id="r1", titles=titles)


def _chapter(index: int, slug: str, title: str, content: str) -> Chapter:
    return Chapter(index=index, abstraction_id=slug, slug=slug, title=title, content=content)


def _tutorial(index: int, title: str, content: str = "Do it.\n") -> Tutorial:
    return Tutorial(index=index, slug=f"t{index}", title=title, content=content)


def test_the_index_lists_chapters_and_tutorials_as_text_without_links() -> None:
    docs = _build(
        _artifacts(
            [_chapter(1, "core", "Core", "x\n"), _chapter(2, "cart", "Cart", "y\n")],
            [_tutorial(1, "Add an item")],
        )
    )
    toc = next(d for d in docs if d.kind == "toc")
    assert "1. Core\n2. Cart\n" in toc.content
    assert "1. Add an item" in toc.content
    assert ".md)" not in toc.content


def test_chapter_cross_references_become_plain_text() -> None:
    docs = _build(
        _artifacts(
            [
                _chapter(1, "core", "Core", "Used by [Cart](02-cart.md).\n"),
                _chapter(2, "cart", "Cart", "Builds on [Core](01-core.md#top).\n"),
            ],
            [],
        )
    )
    chapters = [d for d in docs if d.kind == "chapter"]
    assert [d.content for d in chapters] == ["Used by Cart.\n", "Builds on Core.\n"]


def test_references_are_the_three_structural_artifacts_and_stay_small() -> None:
    docs = _build(_artifacts([_chapter(1, "core", "Core", "x\n")], []))
    refs = [d for d in docs if d.kind == "yaml"]
    assert [(d.slug, d.title) for d in refs] == [
        ("artifact-1-abstractions", "Abstractions"),
        ("artifact-2-relationships", "Relationships"),
        ("artifact-3-order", "Order"),
    ]
    # The chapter text is not listed again, and the skipped-file list is not listed at all.
    assert all("vendor/" not in d.content and len(d.content) < 2000 for d in refs)


def test_every_doc_is_normalised_markdown() -> None:
    docs = _build(_artifacts([_chapter(1, "core", "Core", "a\r\n```py\nx = 1\r\n")], []))
    chapter = next(d for d in docs if d.kind == "chapter")
    assert chapter.content == "a\n```py\nx = 1\n```\n"


def test_titles_are_unique_per_kind_because_the_page_hides_a_repeated_title() -> None:
    docs = _build(
        _artifacts(
            [_chapter(1, "core", "Core", "x\n")],
            [_tutorial(1, "Trace a call"), _tutorial(2, "trace a call "), _tutorial(3, "Core")],
        )
    )
    tutorials = [d.title for d in docs if d.kind == "tutorial"]
    assert tutorials == ["Trace a call", "trace a call (2)", "Core"]


def test_a_chapter_over_one_document_is_stored_in_parts_that_each_fit() -> None:
    big = "# Big\n\n```python\n" + "x = 1  # padding padding padding\n" * 60_000 + "```\n"
    docs = _build(_artifacts([_chapter(1, "core", "Core", big)], []))
    parts = [d for d in docs if d.kind == "chapter"]
    assert len(parts) == 3
    assert [d.title for d in parts] == [f"Core (part {k} of 3)" for k in (1, 2, 3)]
    assert len({d.slug for d in parts}) == 3
    assert all(d.chapter_index == 1 for d in parts)
    assert all(len(d.content.encode()) <= MAX_DOC_BYTES for d in docs)


def test_the_file_export_links_the_index_entries_to_their_files(tmp_path: Path) -> None:
    docs = _build(_artifacts([_chapter(1, "core", "Core", "x\n")], [_tutorial(1, "Add an item")]))
    write_docs(docs, tmp_path)
    index = (tmp_path / "index.md").read_text()
    assert "1. [Core](01-core.md)" in index
    assert "1. [Add an item](tutorial-01-t1.md)" in index
    assert (tmp_path / "01-core.md").exists()
    assert (tmp_path / "artifacts" / "artifact-3-order.yaml").exists()


def test_a_docs_own_top_heading_is_left_to_the_page_which_shows_the_title() -> None:
    docs = _build(_artifacts([_chapter(1, "core", "Core", "# Chapter 1: Core\n\nBody.\n")], []))
    chapter = next(d for d in docs if d.kind == "chapter")
    toc = next(d for d in docs if d.kind == "toc")
    assert chapter.content == "Body.\n"
    assert not toc.content.startswith("# ")


def test_the_file_export_gives_each_file_its_title_as_heading(tmp_path: Path) -> None:
    docs = _build(_artifacts([_chapter(1, "core", "Core", "# Chapter 1: Core\n\nBody.\n")], []))
    write_docs(docs, tmp_path)
    assert (tmp_path / "01-core.md").read_text() == "# Core\n\nBody.\n"
    assert (tmp_path / "index.md").read_text().startswith("# shop\n\nA shop.\n")


def _chapters_stored_in(order: list[Chapter]) -> list[DocSpec]:
    """The chapter docs as they are stored one review at a time, in ``order``."""
    titles = CourseTitles()
    return [d for ch in order for d in chapter_docs(ch, titles, "r1")]


def test_chapters_stored_as_their_reviews_end_are_the_docs_the_save_stores() -> None:
    chapters = [_chapter(1, "core", "Core", "x\n"), _chapter(2, "cart", "Cart", "y\n")]
    early = _chapters_stored_in(list(reversed(chapters)))
    final = [
        d for d in _build(_artifacts(chapters, []), CourseTitles(early)) if d.kind == "chapter"
    ]
    by_slug = {d.slug: d for d in early}
    assert [d.slug for d in final] == ["01-core", "02-cart"]
    assert all(d.same_as(by_slug[d.slug]) for d in final)


def test_a_title_given_to_a_chapter_stored_early_is_kept_by_the_save() -> None:
    # Chapter 2 is reviewed first and takes "Overview"; chapter 1, with the same title,
    # becomes "Overview (2)", and the save keeps both: the page hides nothing.
    chapters = [_chapter(1, "core", "Overview", "x\n"), _chapter(2, "cart", "overview ", "y\n")]
    early = _chapters_stored_in([chapters[1], chapters[0]])
    assert [d.title for d in early] == ["overview", "Overview (2)"]
    final = _build(_artifacts(chapters, []), CourseTitles(early))
    titles = {d.slug: d.title for d in final if d.kind == "chapter"}
    assert titles == {"01-core": "Overview (2)", "02-cart": "overview"}


def test_a_chapter_whose_title_changed_in_a_second_review_takes_its_new_title() -> None:
    early = _chapters_stored_in([_chapter(1, "core", "Core", "x\n")])
    final = _build(_artifacts([_chapter(1, "core", "The core", "x\n")], []), CourseTitles(early))
    assert [d.title for d in final if d.kind == "chapter"] == ["The core"]


def test_a_chapter_in_parts_stored_early_keeps_its_slugs_and_titles_at_the_save() -> None:
    big = "# Big\n\n```python\n" + "x = 1  # padding padding padding\n" * 60_000 + "```\n"
    chapters = [_chapter(1, "core", "Core", "x\n"), _chapter(2, "cart", "Core", big)]
    early = _chapters_stored_in([chapters[1], chapters[0]])
    final = [
        d for d in _build(_artifacts(chapters, []), CourseTitles(early)) if d.kind == "chapter"
    ]
    assert {d.slug: d.title for d in final} == {d.slug: d.title for d in early}
    assert [d.title for d in early] == [f"Core (part {k} of 3)" for k in (1, 2, 3)] + ["Core (2)"]


def test_every_doc_has_a_source_key_its_kind_and_slug_without_its_place() -> None:
    big = "# Big\n\n" + "A line of text.\n" * 120_000
    chapters = [_chapter(1, "core", "Core", "x\n"), _chapter(2, "cart", "Cart", big)]
    docs = _build(_artifacts(chapters, [_tutorial(1, "Add")]))
    keys = {d.slug: d.source_key for d in docs}
    assert keys["01-core"] == "r1:chapter:core"
    assert keys["02-cart-part-1"] == "r1:chapter:cart-part-1"
    assert keys["tutorial-01-t1"] == "r1:tutorial:tutorial-t1"
    assert keys["index"] == "r1:toc:index"
    assert keys["artifact-1-abstractions"] == "r1:yaml:artifact-1-abstractions"
    moved = _build(_artifacts([_chapter(2, "core", "Core", "x\n")], []))
    assert [d.source_key for d in moved if d.kind == "chapter"] == ["r1:chapter:core"]


@pytest.mark.parametrize("kind", ["chapter", "tutorial"])
@pytest.mark.parametrize("content", ["", "# Cart\n", "# Cart\n\n  \n", "[](01-core.md)\n"])
def test_the_save_refuses_a_chapter_or_tutorial_with_nothing_under_its_title(
    kind: str, content: str
) -> None:
    chapters = [_chapter(1, "core", "Core", "x\n"), _chapter(2, "cart", "Cart", "y\n")]
    tutorials = [_tutorial(1, "Cart")]
    if kind == "chapter":
        chapters[1] = _chapter(2, "cart", "Cart", content)
    else:
        tutorials[0] = _tutorial(1, "Cart", content)
    with pytest.raises(EmptyDoc, match=f"{kind} .*'Cart'.* no content under its title") as info:
        _build(_artifacts(chapters, tutorials))
    assert isinstance(info.value, PermanentError)
