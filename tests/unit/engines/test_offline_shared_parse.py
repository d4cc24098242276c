"""The offline engine's parse results shared across the jobs of a repository: a new
job parses only the files whose content changed since the previous job."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.offline.index import FactsMemo, Limits, build_index
from analysis.offline.model import FileFacts
from analysis.offline.parsing import parse_source
from analysis.offline.shared_parse import load_pack, save_pack
from analysis.reuse import KeptWork, ReuseBook
from checkout.tree_ids import TreeIds
from fondation.cancel import CancelToken
from store.records import ReuseKind
from testbed.gitrepo import git, make_repo


class MemoryBook(ReuseBook):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, str]] = {}

    def find(self, kind: ReuseKind, key: str) -> list[KeptWork]:
        return [KeptWork(v, x, "j") for v, x in self.records.get((kind, key), {}).items()]

    def keep(self, kind: ReuseKind, key: str, variant: str, value: str) -> None:
        self.records.setdefault((kind, key), {})[variant] = value

    def tree(self) -> TreeIds | None:
        return None

    def note(self, line: str) -> None:
        pass


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The first line of every file the index parses."""
    seen: list[str] = []
    real = parse_source

    def counting(text: str, language: str) -> FileFacts:
        seen.append(text.splitlines()[0] if text else "")
        return real(text, language)

    monkeypatch.setattr("analysis.offline.index.parse_source", counting)
    return seen


def _index(repo: Path, work: Path, book: ReuseBook) -> None:
    build_index(repo, work, Limits(), CancelToken(), FactsMemo(), book)


def test_a_new_job_parses_only_the_files_whose_content_changed(
    tmp_path: Path, parsed: list[str]
) -> None:
    repo = make_repo(tmp_path / "shop")
    book = MemoryBook()
    _index(repo, tmp_path / "job-1", book)
    first = len(parsed)
    assert first >= 5
    (repo / "shop" / "cart.py").write_text('"""The cart, changed."""\n')
    git(repo, "commit", "-qam", "change the cart")
    parsed.clear()
    _index(repo, tmp_path / "job-2", book)
    assert parsed == ['"""The cart, changed."""']
    # A third job of the same commit parses nothing at all.
    parsed.clear()
    _index(repo, tmp_path / "job-3", book)
    assert parsed == []


def test_a_fresh_book_shares_nothing(tmp_path: Path, parsed: list[str]) -> None:
    repo = make_repo(tmp_path / "shop")
    book = MemoryBook()
    _index(repo, tmp_path / "job-1", book)
    first = len(parsed)
    book.fresh = True
    parsed.clear()
    _index(repo, tmp_path / "job-2", book)
    assert len(parsed) == first


def test_a_pack_mixed_from_two_jobs_is_not_taken() -> None:
    book = MemoryBook()
    save_pack(book, "k", b"x" * 10)
    assert load_pack(book, "k") == b"x" * 10
    other = MemoryBook()
    save_pack(other, "k", b"y" * 10)
    stale = other.records[("parse", "k")]["0"].replace('"part": 0', '"part": 1')
    book.records[("parse", "k")]["1"] = stale
    book.records[("parse", "k")]["0"] = book.records[("parse", "k")]["0"].replace(
        '"of": 1', '"of": 2'
    )
    assert load_pack(book, "k") is None
