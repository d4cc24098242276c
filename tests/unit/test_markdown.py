"""The Markdown every stored doc passes through: normalised, unlinked, split to size."""

from __future__ import annotations

from analysis.course import markdown


def _fences_balanced(text: str) -> bool:
    """Every fence opened in ``text`` is closed again (the course page's renderer test)."""
    open_marker: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if open_marker is None:
            if stripped.startswith(("```", "~~~")):
                open_marker = stripped[:3]
        elif stripped and set(stripped) == {open_marker[0]} and len(stripped) >= 3:
            open_marker = None
    return open_marker is None


def test_normalize_turns_crlf_and_cr_into_lf_and_ends_with_one_newline() -> None:
    assert markdown.normalize("a\r\nb\rc\n\n\n") == "a\nb\nc\n"


def test_normalize_closes_a_code_fence_left_open() -> None:
    text = markdown.normalize("# T\n\n```python\nx = 1\n")
    assert text == "# T\n\n```python\nx = 1\n```\n"
    assert _fences_balanced(text)


def test_normalize_closes_a_longer_fence_with_its_own_marker() -> None:
    text = markdown.normalize("````md\n```\ninner\n```\n")
    assert text.endswith("```\n````\n")


def test_normalize_leaves_closed_fences_alone() -> None:
    text = "intro\n\n~~~\ncode\n~~~\n"
    assert markdown.normalize(text) == text


def test_relative_md_links_become_their_text() -> None:
    text = 'See [Core](02-core.md), [the API](./sub/api.md#use) and [T](x.md "title").'
    assert markdown.unlink_relative(text) == "See Core, the API and T."


def test_absolute_links_anchors_and_images_stay_links() -> None:
    text = (
        "[site](https://example.org/readme.md) [top](#top) [root](/docs/a.md) "
        "![diagram](diagram.png) [mail](mailto:a@b.c)"
    )
    assert markdown.unlink_relative(text) == text


def test_relative_md_reference_definitions_are_dropped() -> None:
    text = "Read [core][c].\n\n[c]: 02-core.md\n[w]: https://example.org/w.md\n"
    assert markdown.unlink_relative(text) == "Read [core][c].\n\n\n[w]: https://example.org/w.md\n"


def test_links_inside_code_stay_as_written() -> None:
    text = "```md\n[Core](02-core.md)\n```\n[Core](02-core.md)\n"
    assert markdown.unlink_relative(text) == "```md\n[Core](02-core.md)\n```\nCore\n"


def test_a_small_text_is_one_piece() -> None:
    assert markdown.split("short\n", 100) == ["short\n"]


def test_split_cuts_between_lines_within_the_limit() -> None:
    text = "".join(f"line {i:04d}\n" for i in range(1000))
    pieces = markdown.split(text, 1000)
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert "".join(pieces) == text


def test_a_cut_inside_a_fence_closes_it_and_opens_it_again() -> None:
    code = "".join(f"    value_{i} = {i}\n" for i in range(200))
    text = "# Big\n\n```python\n" + code + "```\n\nafter\n"
    pieces = markdown.split(text, 1200)
    assert len(pieces) > 2
    assert all(len(p.encode()) <= 1200 for p in pieces)
    assert all(_fences_balanced(p) for p in pieces)
    assert all(p.startswith("```python\n") for p in pieces[1:-1])
    # Nothing is lost: the pieces without the added fence lines give the text back.
    body = "".join(pieces).replace("```\n```python\n", "")
    assert body == text


def test_a_line_longer_than_a_piece_is_cut_between_characters() -> None:
    text = "é" * 3000 + "\n"
    pieces = markdown.split(text, 1000)
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == "é" * 3000


def test_a_leading_level_one_heading_is_dropped_and_deeper_ones_kept() -> None:
    assert markdown.drop_leading_title("\n# Title\n\nBody\n") == "Body\n"
    assert markdown.drop_leading_title("## Section\nBody\n") == "## Section\nBody\n"
    assert markdown.drop_leading_title("Body\n# Later\n") == "Body\n# Later\n"
