"""The checks every answer goes through before it becomes an artifact."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from analysis.claude.validate import (
    Checkout,
    check_abstractions,
    check_chapters,
    check_order,
    check_relationships,
    check_review,
    check_tutorials,
)
from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Chapter,
    Citation,
    OrderArtifact,
    Relationship,
    RelationshipsArtifact,
    ReviewArtifact,
    ReviewFinding,
    Tutorial,
    TutorialsArtifact,
)


@pytest.fixture
def checkout(tmp_path: Path, shop_repo: Path) -> Checkout:
    root = tmp_path / "checkout"
    shutil.copytree(shop_repo, root, symlinks=True)
    (tmp_path / "outside.txt").write_text("secret\n")
    os.symlink(tmp_path / "outside.txt", root / "escape.txt")
    os.symlink("shop/cart.py", root / "cart-link.py")
    (root / "no-newline.txt").write_text("one\ntwo")
    return Checkout(root)


def _abstraction(aid: str, *files: str, cites: list[Citation] | None = None) -> Abstraction:
    return Abstraction(id=aid, name=aid, summary="s", files=list(files), citations=cites or [])


ABSTRACTIONS = AbstractionsArtifact(
    project_name="Shop",
    summary="s",
    abstractions=[_abstraction("cart", "shop/cart.py"), _abstraction("models", "shop/models.py")],
)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("shop/payments.py", "no such file"),
        ("../outside.txt", "'..' is refused"),
        ("shop/../../outside.txt", "'..' is refused"),
        ("/etc/passwd", "absolute paths are refused"),
        ("escape.txt", "leads outside the repository"),
        ("shop", "not a file"),
        (".git/HEAD", ".git is not part"),
        ("shop\\cart.py", "not a clean relative path"),
        ("", "not a clean relative path"),
        ("./shop/cart.py", "write it as 'shop/cart.py'"),
    ],
)
def test_paths_must_be_files_inside_the_checkout(
    checkout: Checkout, path: str, problem: str
) -> None:
    assert problem in (checkout.path_problem(path) or "")


@pytest.mark.parametrize("path", ["shop/cart.py", "README.md", "cart-link.py"])
def test_real_files_and_links_inside_the_checkout_are_accepted(
    checkout: Checkout, path: str
) -> None:
    assert checkout.path_problem(path) is None


def test_citations_must_stay_within_the_file(checkout: Checkout) -> None:
    assert (
        checkout.citation_problem(Citation(path="shop/cart.py", start_line=6, end_line=16)) is None
    )
    past = checkout.citation_problem(Citation(path="shop/cart.py", start_line=6, end_line=17))
    assert past == "shop/cart.py:6-17: the file has only 16 lines"
    backwards = checkout.citation_problem(Citation(path="shop/cart.py", start_line=9, end_line=3))
    assert "end_line is before start_line" in (backwards or "")
    # A last line without a newline still counts.
    assert (
        checkout.citation_problem(Citation(path="no-newline.txt", start_line=2, end_line=2)) is None
    )


def test_abstraction_ids_must_be_unique_and_their_files_real(checkout: Checkout) -> None:
    art = AbstractionsArtifact(
        project_name="Shop",
        summary="s",
        abstractions=[
            _abstraction("cart", "shop/cart.py"),
            _abstraction("cart", "shop/payments.py"),
            _abstraction(
                "models",
                "shop/models.py",
                cites=[Citation(path="shop/models.py", start_line=1, end_line=40)],
            ),
        ],
    )
    problems = check_abstractions(art, checkout)
    assert problems == [
        "duplicate abstraction id 'cart'",
        "abstraction cart: 'shop/payments.py': no such file in the repository",
        "abstraction models: shop/models.py:1-40: the file has only 9 lines",
    ]


def test_relationship_ends_must_be_known_abstractions(checkout: Checkout) -> None:
    art = RelationshipsArtifact(
        summary="s",
        relationships=[
            Relationship(source="cart", target="models", label="imports"),
            Relationship(source="checkout", target="cart", label="calls"),
        ],
    )
    [problem] = check_relationships(art, ABSTRACTIONS, checkout)
    assert problem.startswith("relationship checkout -> cart: unknown abstraction id 'checkout'")


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (["models", "cart"], []),
        (["models"], ["abstraction 'cart' is missing from the order"]),
        (["models", "cart", "cart"], ["'cart' appears more than once in the order"]),
        (["models", "cart", "tax"], ["'tax' in the order is not an abstraction id"]),
    ],
)
def test_the_order_is_a_permutation_of_the_ids(order: list[str], expected: list[str]) -> None:
    assert check_order(OrderArtifact(order=order), ABSTRACTIONS) == expected


def _chapter(index: int, aid: str, slug: str, content: str = "text") -> Chapter:
    return Chapter(index=index, abstraction_id=aid, slug=slug, title="t", content=content)


def test_chapters_need_known_ids_unique_slugs_and_content(checkout: Checkout) -> None:
    chapters = [
        _chapter(1, "models", "models"),
        _chapter(2, "cart", "models"),
        _chapter(3, "tax", "tax", content="  "),
    ]
    assert check_chapters(chapters, ABSTRACTIONS, checkout) == [
        "duplicate chapter slug 'models'",
        "chapter tax: unknown abstraction id 'tax'",
        "chapter tax: empty content: nothing is left once the leading '# ' title is dropped"
        " (the course page shows the title itself); write the text under it",
    ]


@pytest.mark.parametrize(
    "content",
    ["", "  \n", "# The cart\n", "# The cart\n\n\n", "\r\n# The cart\r\n", "[](02-tax.md)\n"],
)
def test_a_chapter_or_tutorial_with_nothing_under_its_title_is_invalid(
    checkout: Checkout, content: str
) -> None:
    [problem] = check_chapters([_chapter(1, "models", "models", content)], ABSTRACTIONS, checkout)
    assert problem.startswith("chapter models: empty content")
    art = TutorialsArtifact(tutorials=[Tutorial(index=1, slug="a", title="t", content=content)])
    [problem] = check_tutorials(art, checkout)
    assert problem.startswith("tutorial a: empty content")


def test_a_title_with_one_line_under_it_is_content(checkout: Checkout) -> None:
    chapter = _chapter(1, "models", "models", "# Items\n\nItems have a price.\n")
    assert check_chapters([chapter], ABSTRACTIONS, checkout) == []


def test_review_findings_must_name_a_chapter(checkout: Checkout) -> None:
    art = ReviewArtifact(
        chapters=[_chapter(1, "models", "models")],
        findings=[ReviewFinding(chapter_slug="cart", kind="link", message="m", fixed=False)],
    )
    assert check_review(art, ABSTRACTIONS, checkout) == ["finding for unknown chapter 'cart'"]


def test_tutorial_files_must_exist_and_slugs_be_unique(checkout: Checkout) -> None:
    art = TutorialsArtifact(
        tutorials=[
            Tutorial(index=1, slug="a", title="t", content="c", files=["shop/cart.py"]),
            Tutorial(index=2, slug="a", title="t", content="c", files=["../outside.txt"]),
        ]
    )
    assert check_tutorials(art, checkout) == [
        "duplicate tutorial slug 'a'",
        "tutorial a: '../outside.txt': '..' is refused; cite paths inside the repository",
    ]
