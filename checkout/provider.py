"""How the clone step puts a job's repository on disk, and how a later step finds it again.

Every engine that reads the repository's files uses git (``GIT_CHECKOUTS``, built on
``checkout.clone``). The interface exists so that an engine whose steps never open a file
can bring its own: the benchmark engine's takes no time, so a benchmark of zero-time
steps times the orchestration alone, not git.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from checkout.clone import (
    DEFAULT_MAX_FILES,
    CloneResult,
    checked_out_at,
    clone,
    ensure_checkout,
)
from checkout.repo_url import RepoSource
from fondation.cancel import CancelToken


@dataclass(frozen=True)
class CloneOptions:
    """The limits and credentials of one job's clone, from the worker's settings."""

    depth: int
    token: str | None
    cancel: CancelToken
    timeout_s: float
    max_bytes: int
    max_files: int = DEFAULT_MAX_FILES


class Checkouts(Protocol):
    def clone(
        self, source: RepoSource, ref: str | None, dest: Path, opts: CloneOptions
    ) -> CloneResult:
        """Put ``ref`` (or the default branch) into ``dest``, replacing what is there, and
        say which commit it is. Running it twice gives a fresh copy."""
        ...

    def holds(self, dest: Path, commit: str) -> bool:
        """True when ``dest`` already holds ``commit``: asked before every later step, so
        it must be cheap."""
        ...

    def ensure(
        self, source: RepoSource, ref: str | None, commit: str, dest: Path, opts: CloneOptions
    ) -> None:
        """Make ``dest`` hold exactly ``commit`` (a step on a worker that did not clone)."""
        ...


class GitCheckouts:
    """A shallow git clone, detached at its commit (see ``checkout.clone``)."""

    def clone(
        self, source: RepoSource, ref: str | None, dest: Path, opts: CloneOptions
    ) -> CloneResult:
        return clone(
            source, ref, dest, depth=opts.depth, token=opts.token, cancel=opts.cancel,
            timeout_s=opts.timeout_s, max_bytes=opts.max_bytes, max_files=opts.max_files,
        )  # fmt: skip

    def holds(self, dest: Path, commit: str) -> bool:
        return checked_out_at(dest, commit)

    def ensure(
        self, source: RepoSource, ref: str | None, commit: str, dest: Path, opts: CloneOptions
    ) -> None:
        ensure_checkout(
            source, ref, commit, dest, depth=opts.depth, token=opts.token, cancel=opts.cancel,
            timeout_s=opts.timeout_s, max_bytes=opts.max_bytes, max_files=opts.max_files,
        )  # fmt: skip


GIT_CHECKOUTS = GitCheckouts()
