"""The per-call reuse rule on real git checkouts: an answer is reused only for the same
question when every file it read and every folder it searched is unchanged, and an
input that cannot be compared makes it never reused."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from analysis.claude import answers, prompts
from analysis.claude.transcript import CallReads
from analysis.engine import StepContext
from analysis.reuse import KeptWork, ReuseBook
from checkout.tree_ids import TreeIds, bounded_diff, read_tree_ids
from store.records import ReuseKind
from testbed.gitrepo import git, make_repo


class Answer(BaseModel):
    text: str


class MemoryBook(ReuseBook):
    """The records of one repository, in memory; the checkout's ids read from git."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, str]] = {}
        self.notes: list[str] = []
        self.checkout: Path | None = None

    def find(self, kind: ReuseKind, key: str) -> list[KeptWork]:
        kept = self.records.get((kind, key), {})
        return [KeptWork(v, value, "job-1") for v, value in reversed(kept.items())]

    def keep(self, kind: ReuseKind, key: str, variant: str, value: str) -> None:
        self.records.setdefault((kind, key), {})[variant] = value

    def tree(self) -> TreeIds | None:
        assert self.checkout is not None
        return read_tree_ids(self.checkout)

    def note(self, line: str) -> None:
        self.notes.append(line)


def _ctx(checkout: Path, book: MemoryBook, work: Path) -> StepContext:
    book.checkout = checkout
    return StepContext(job_id="j", checkout=checkout, prompt="", work_dir=work, reuse=book)


QUESTION = answers.Question.of("chapters", "chapter-02-cart", "Explain the cart.", {}, None)


def _answered(tmp_path: Path, reads: CallReads) -> tuple[Path, MemoryBook]:
    """A checkout where QUESTION was answered after ``reads``, and the kept records."""
    repo = make_repo(tmp_path / "shop")
    book = MemoryBook()
    answers.keep(_ctx(repo, book, tmp_path / "w1"), QUESTION, reads, Answer(text="kept"))
    return repo, book


def _commit(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"change {rel}")


def _reused(
    repo: Path, book: MemoryBook, tmp_path: Path, question: answers.Question = QUESTION
) -> Answer | None:
    return answers.reuse(_ctx(repo, book, tmp_path / "w2"), question, Answer)


def test_an_answer_whose_files_are_unchanged_is_reused_after_another_file_changed(
    tmp_path: Path,
) -> None:
    repo, book = _answered(tmp_path, CallReads(files=frozenset({"shop/cart.py"})))
    _commit(repo, "shop/checkout.py", "# paying\n")
    assert _reused(repo, book, tmp_path) == Answer(text="kept")


def test_an_answer_whose_file_changed_is_asked_again_and_the_log_names_the_file(
    tmp_path: Path,
) -> None:
    repo, book = _answered(tmp_path, CallReads(files=frozenset({"shop/cart.py"})))
    _commit(repo, "shop/cart.py", "# a new cart\n")
    assert _reused(repo, book, tmp_path) is None
    assert book.notes == ["chapter-02-cart: asked again, shop/cart.py changed"]


def test_a_new_question_is_asked_again_whatever_it_read(tmp_path: Path) -> None:
    repo, book = _answered(tmp_path, CallReads(files=frozenset({"shop/cart.py"})))
    other = answers.Question.of("chapters", "chapter-02-cart", "Explain it better.", {}, None)
    assert _reused(repo, book, tmp_path, other) is None
    assert "its prompt changed" in book.notes[0]


def test_a_search_of_a_folder_is_unchanged_only_while_nothing_below_it_changes(
    tmp_path: Path,
) -> None:
    repo, book = _answered(tmp_path, CallReads(scopes=frozenset({"shop"})))
    _commit(repo, "tests/test_more.py", "x = 1\n")
    assert _reused(repo, book, tmp_path) == Answer(text="kept")
    _commit(repo, "shop/sub/new.py", "y = 2\n")
    assert _reused(repo, book, tmp_path) is None
    assert book.notes == ["chapter-02-cart: asked again, shop changed"]


def test_a_search_of_the_whole_tree_changes_with_any_file(tmp_path: Path) -> None:
    repo, book = _answered(tmp_path, CallReads(scopes=frozenset({""})))
    _commit(repo, "docs/notes.md", "notes\n")
    assert _reused(repo, book, tmp_path) is None


def test_a_file_that_was_missing_counts_as_read_until_it_appears(tmp_path: Path) -> None:
    repo, book = _answered(tmp_path, CallReads(files=frozenset({"shop/discounts.py"})))
    _commit(repo, "README.md", "# Shop, again\n")
    assert _reused(repo, book, tmp_path) == Answer(text="kept")
    _commit(repo, "shop/discounts.py", "RATE = 10\n")
    assert _reused(repo, book, tmp_path) is None


def test_an_answer_that_read_outside_the_checkout_or_used_another_tool_is_never_kept(
    tmp_path: Path,
) -> None:
    outside = CallReads(files=frozenset({"shop/cart.py"}), unprovable=("Read outside",))
    repo, book = _answered(tmp_path, outside)
    assert book.records == {}
    assert _reused(repo, book, tmp_path) is None


def test_a_read_through_a_symlink_is_never_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop")
    os.symlink("cart.py", repo / "shop" / "link.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a link")
    book = MemoryBook()
    reads = CallReads(files=frozenset({"shop/link.py"}))
    answers.keep(_ctx(repo, book, tmp_path / "w1"), QUESTION, reads, Answer(text="kept"))
    assert book.records == {}
    # Nor is a read below a linked folder, which git records as a link too.
    os.symlink("shop", repo / "alias")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a folder link")
    reads = CallReads(files=frozenset({"alias/cart.py"}))
    answers.keep(_ctx(repo, book, tmp_path / "w1"), QUESTION, reads, Answer(text="kept"))
    assert book.records == {}


def test_a_fresh_job_reuses_nothing(tmp_path: Path) -> None:
    repo, book = _answered(tmp_path, CallReads(files=frozenset({"shop/cart.py"})))
    book.fresh = True
    assert _reused(repo, book, tmp_path) is None


def test_a_call_asked_again_is_told_its_previous_answer_the_changed_files_and_the_diff(
    tmp_path: Path,
) -> None:
    reads = CallReads(files=frozenset({"shop/cart.py", "shop/models.py"}), scopes=frozenset({""}))
    repo, book = _answered(tmp_path, reads)
    _commit(repo, "shop/cart.py", "# the cart, rewritten\n")
    before = answers.previous(_ctx(repo, book, tmp_path / "w2"), QUESTION.key)
    assert before is not None
    assert before.answer == {"text": "kept"}
    assert before.changed_files == ["shop/cart.py"]
    assert before.changed_folders == [""]
    diff = bounded_diff(repo, before.commit, before.changed_files, 10_000)
    assert diff is not None
    assert "+# the cart, rewritten" in diff
    section = prompts.keep_what_holds(before.answer, before.changed_files, [""], diff)
    assert '{"text":"kept"}' in section
    assert "- shop/cart.py" in section
    assert "(the whole repository)" in section
    assert "```diff" in section


def test_without_the_previous_commit_there_is_no_diff_and_a_long_one_is_cut(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "shop")
    assert bounded_diff(repo, "0" * 40, ["shop/cart.py"], 1000) is None
    old = git(repo, "rev-parse", "HEAD")
    _commit(repo, "shop/cart.py", "x = 1\n" * 500)
    diff = bounded_diff(repo, old, ["shop/cart.py"], 200)
    assert diff is not None
    assert diff.endswith("(diff cut at 200 characters)\n")
