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
from analysis.course.course import EmptyDoc, build_docs, write_docs
from analysis.course.markdown import MAX_DOC_BYTES
from fondation.errors import PermanentError


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


def _chapter(index: int, slug: str, title: str, content: str) -> Chapter:
    return Chapter(index=index, abstraction_id=slug, slug=slug, title=title, content=content)


def _tutorial(index: int, title: str, content: str = "Do it.\n") -> Tutorial:
    return Tutorial(index=index, slug=f"t{index}", title=title, content=content)


def test_the_index_lists_chapters_and_tutorials_as_text_without_links() -> None:
    docs = build_docs(
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
    docs = build_docs(
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
    docs = build_docs(_artifacts([_chapter(1, "core", "Core", "x\n")], []))
    refs = [d for d in docs if d.kind == "yaml"]
    assert [(d.slug, d.title) for d in refs] == [
        ("artifact-1-abstractions", "Abstractions"),
        ("artifact-2-relationships", "Relationships"),
        ("artifact-3-order", "Order"),
    ]
    # The chapter text is not listed again, and the skipped-file list is not listed at all.
    assert all("vendor/" not in d.content and len(d.content) < 2000 for d in refs)


def test_every_doc_is_normalised_markdown() -> None:
    docs = build_docs(_artifacts([_chapter(1, "core", "Core", "a\r\n```py\nx = 1\r\n")], []))
    chapter = next(d for d in docs if d.kind == "chapter")
    assert chapter.content == "a\n```py\nx = 1\n```\n"


def test_titles_are_unique_per_kind_because_the_page_hides_a_repeated_title() -> None:
    docs = build_docs(
        _artifacts(
            [_chapter(1, "core", "Core", "x\n")],
            [_tutorial(1, "Trace a call"), _tutorial(2, "trace a call "), _tutorial(3, "Core")],
        )
    )
    tutorials = [d.title for d in docs if d.kind == "tutorial"]
    assert tutorials == ["Trace a call", "trace a call (2)", "Core"]


def test_a_chapter_over_one_document_is_stored_in_parts_that_each_fit() -> None:
    big = "# Big\n\n```python\n" + "x = 1  # padding padding padding\n" * 60_000 + "```\n"
    docs = build_docs(_artifacts([_chapter(1, "core", "Core", big)], []))
    parts = [d for d in docs if d.kind == "chapter"]
    assert len(parts) == 3
    assert [d.title for d in parts] == [f"Core (part {k} of 3)" for k in (1, 2, 3)]
    assert len({d.slug for d in parts}) == 3
    assert all(d.chapter_index == 1 for d in parts)
    assert all(len(d.content.encode()) <= MAX_DOC_BYTES for d in docs)


def test_the_file_export_links_the_index_entries_to_their_files(tmp_path: Path) -> None:
    docs = build_docs(
        _artifacts([_chapter(1, "core", "Core", "x\n")], [_tutorial(1, "Add an item")])
    )
    write_docs(docs, tmp_path)
    index = (tmp_path / "index.md").read_text()
    assert "1. [Core](01-core.md)" in index
    assert "1. [Add an item](tutorial-01-t1.md)" in index
    assert (tmp_path / "01-core.md").exists()
    assert (tmp_path / "artifacts" / "artifact-3-order.yaml").exists()


def test_a_docs_own_top_heading_is_left_to_the_page_which_shows_the_title() -> None:
    docs = build_docs(_artifacts([_chapter(1, "core", "Core", "# Chapter 1: Core\n\nBody.\n")], []))
    chapter = next(d for d in docs if d.kind == "chapter")
    toc = next(d for d in docs if d.kind == "toc")
    assert chapter.content == "Body.\n"
    assert not toc.content.startswith("# ")


def test_the_file_export_gives_each_file_its_title_as_heading(tmp_path: Path) -> None:
    docs = build_docs(_artifacts([_chapter(1, "core", "Core", "# Chapter 1: Core\n\nBody.\n")], []))
    write_docs(docs, tmp_path)
    assert (tmp_path / "01-core.md").read_text() == "# Core\n\nBody.\n"
    assert (tmp_path / "index.md").read_text().startswith("# shop\n\nA shop.\n")


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
        build_docs(_artifacts(chapters, tutorials))
    assert isinstance(info.value, PermanentError)
