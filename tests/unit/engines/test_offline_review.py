"""The mermaid validator, and the review step's checks and fixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.course.artifacts import Chapter, ChaptersArtifact, Citation, ReviewArtifact
from analysis.offline.markdown import blocks
from analysis.offline.mermaid import safe_label, validate
from analysis.offline.review import review_chapters
from fondation.cancel import CancelToken
from fondation.errors import JobCanceled
from tests.unit.engines.conftest import Runner, Writer

GOOD = """graph LR
  n0["celery.app"]
  n1["kombu (transport)"]
  %% a comment
  n0 -->|calls| n1
  n1 -.->|imports| n0
  n2["x"] --> n3["y"]
  n0 --> n1"""


def test_the_validator_accepts_the_subset_chapters_emit() -> None:
    assert validate(GOOD) == []
    assert validate("flowchart TD\n  a --> b;") == []


@pytest.mark.parametrize(
    ("diagram", "problem"),
    [
        ("", "empty diagram"),
        ("grph LR\n  a --> b", "expected 'graph <direction>'"),
        ("graph SIDEWAYS\n  a --> b", "expected 'graph <direction>'"),
        ('graph LR\n  a["say "hi""] --> b', "not a node or an edge"),
        ("graph LR\n  a -> b", "not a node or an edge"),
        ("graph LR\n  a -->|x|y| b", "not a node or an edge"),
        ("graph LR\n  a[unquoted] --> b", "not a node or an edge"),
        ("graph LR\n  a --> ", "not a node or an edge"),
        ("graph LR\n  1a --> b", "not a node or an edge"),
        ('graph LR\n  end["x"]', "reserved word"),
    ],
)
def test_the_validator_rejects_broken_diagrams(diagram: str, problem: str) -> None:
    errors = validate(diagram)
    assert errors
    assert problem in errors[0]


def test_labels_are_made_safe() -> None:
    assert safe_label('a "quoted" [thing] | pipe <b>') == "a quoted thing pipe b"
    label = safe_label('x]"[y')
    assert validate(f'graph LR\n  n0["{label}"]') == []


def chapter(
    content: str, index: int = 1, slug: str = "core", citations: list[Citation] | None = None
) -> Chapter:
    return Chapter(
        index=index,
        abstraction_id=slug,
        slug=slug,
        title=slug,
        content=content,
        citations=citations or [],
    )


@pytest.fixture
def repo(tmp_path: Path, write: Writer) -> Path:
    return write(tmp_path / "repo", {"core.py": "".join(f"x{i} = {i}\n" for i in range(10))})


def review(
    repo: Path, *chapters: Chapter, diagram: str | None = 'graph LR\n  n0["core"]'
) -> ReviewArtifact:
    return review_chapters(
        repo, ChaptersArtifact(chapters=list(chapters)), lambda _: diagram, CancelToken()
    )


def test_review_clamps_or_drops_broken_citations(repo: Path) -> None:
    content = "# Core\n\nSee `core.py:2-4`, `core.py:8-40`, `core.py:99` and `gone.py:1-3`.\n"
    citations = [
        Citation(path="core.py", start_line=2, end_line=4),
        Citation(path="core.py", start_line=8, end_line=40),
        Citation(path="gone.py", start_line=1, end_line=3),
        Citation(path="../etc/passwd", start_line=1, end_line=1),
    ]
    result = review(repo, chapter(content, citations=citations))
    fixed = result.chapters[0]
    assert "See `core.py:2-4`, `core.py:8-10`, `core.py:10` and `gone.py`." in fixed.content
    assert fixed.citations == [
        Citation(path="core.py", start_line=2, end_line=4),
        Citation(path="core.py", start_line=8, end_line=10),
    ]
    kinds = [(f.kind, f.fixed) for f in result.findings]
    assert kinds == [("citation", True)] * 6


def test_review_removes_empty_sections_and_introduces_bare_parents(repo: Path) -> None:
    content = (
        "# Core\n\nIntro.\n\n## Empty\n\n## Parts\n\n### One\n\nText.\n\n### Two\n\n"
        "```python\nx = 1\n# not a heading\n```\n\n## Trailing\n"
    )
    result = review(repo, chapter(content))
    fixed = result.chapters[0].content
    assert "## Empty" not in fixed
    assert "## Trailing" not in fixed
    assert "## Parts\n\nThis section has 2 parts: One and Two.\n\n### One" in fixed
    assert "# not a heading" in fixed  # code is never taken for a heading
    assert [f.kind for f in result.findings] == ["empty-section"] * 3
    assert review(repo, chapter(fixed)).findings == []


def test_review_regenerates_or_removes_broken_diagrams(repo: Path) -> None:
    content = "# Core\n\nText.\n\n```mermaid\ngraph LR\n  a -> b\n```\n\nAfter.\n"
    regenerated = review(repo, chapter(content))
    diagrams = [b for b in blocks(regenerated.chapters[0].content) if b.info == "mermaid"]
    assert len(diagrams) == 1
    assert validate("\n".join(diagrams[0].lines[1:-1])) == []
    assert regenerated.findings[0].kind == "mermaid"
    assert "regenerated" in regenerated.findings[0].message
    removed = review(repo, chapter(content), diagram=None)
    assert "mermaid" not in removed.chapters[0].content
    assert "After." in removed.chapters[0].content
    unclosed = review(repo, chapter("# Core\n\n```mermaid\ngraph LR\n  a --> b\n\nAfter.\n"))
    assert "After." in unclosed.chapters[0].content
    assert "never closed" in unclosed.findings[0].message


def test_review_repairs_links_between_chapters(repo: Path) -> None:
    first = chapter(
        "# Core\n\nSee [api](07-api.md), [gone](03-gone.md) and [web](https://x.org/a.md).\n"
    )
    second = chapter("# Api\n\nBack to [core](01-core.md).\n", index=2, slug="api")
    result = review(repo, first, second)
    assert "See [api](02-api.md), gone and [web](https://x.org/a.md)." in (
        result.chapters[0].content
    )
    assert [f.kind for f in result.findings] == ["link", "link"]


def test_review_passes_what_the_engine_wrote(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    course = run_course(shop, tmp_path / "work")
    assert course.review.findings == []
    assert [c.content for c in course.review.chapters] == [
        c.content for c in course.chapters.chapters
    ]


def test_each_chapter_is_reported_once_reviewed_before_the_next_is_read(repo: Path) -> None:
    reported: list[tuple[str, int]] = []
    cancel = CancelToken()

    def reviewed(done: Chapter) -> None:
        reported.append((done.slug, len(reported)))
        cancel.cancel("enough")  # the next chapter is not reviewed

    drafts = [chapter("# A\n\nText.\n", 1, "a"), chapter("# B\n\nText.\n", 2, "b")]
    with pytest.raises(JobCanceled):
        review_chapters(repo, ChaptersArtifact(chapters=drafts), lambda _: None, cancel, reviewed)
    assert reported == [("a", 0)]


def test_the_reported_chapters_are_the_artifacts(repo: Path) -> None:
    reported: list[Chapter] = []
    drafts = [chapter("# A\n\nSee `core.py:2-40`.\n", 1, "a"), chapter("# B\n\nB.\n", 2, "b")]
    art = review_chapters(
        repo, ChaptersArtifact(chapters=drafts), lambda _: None, CancelToken(), reported.append
    )
    assert reported == art.chapters
