"""Work of a repository's earlier jobs that a step may take instead of doing it again.

A ``ReuseBook`` is handed to each step in its context. It reads and keeps records of the
job's own repository only (the store reads the repository from the job under its
lease), knows the git ids of the checkout's files and folders, and writes the job log
lines that say what was redone and why. An engine that finds no book, or a book marked
``fresh``, does everything again.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from checkout.tree_ids import TreeIds
from store.records import ReuseKind


@dataclass(frozen=True)
class KeptWork:
    """One kept record: its value (JSON) and the job that did the work."""

    variant: str
    value: str
    job_id: str


class ReuseBook(abc.ABC):
    """The reuse records of the job's repository, as one step sees them."""

    # The job asked for everything to be done again: nothing is read, all is still kept.
    fresh: bool = False

    @abc.abstractmethod
    def find(self, kind: ReuseKind, key: str) -> list[KeptWork]:
        """The records of ``key``, newest first; empty when the store cannot say."""

    @abc.abstractmethod
    def keep(self, kind: ReuseKind, key: str, variant: str, value: str) -> None:
        """Keep a record for later jobs; too large a value is not kept."""

    @abc.abstractmethod
    def tree(self) -> TreeIds | None:
        """The git ids of the checkout, or None when they cannot be read."""

    @abc.abstractmethod
    def note(self, line: str) -> None:
        """One line of the job log (what was reused, what was redone and why)."""
