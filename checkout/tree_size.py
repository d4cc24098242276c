"""The size limits of a checkout: the commit's blobs summed as ``git ls-tree`` streams
them, before anything is written, and the written tree measured again after."""

from __future__ import annotations

import os
from pathlib import Path

from fondation.errors import PermanentError


def measure_tree(root: Path, max_bytes: int) -> tuple[int, int]:
    """Files and bytes of the working tree, without ``.git`` and without following links."""
    git_dir = str(root / ".git")
    files = size = 0
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.path != git_dir:
                        pending.append(entry.path)
                    continue
                files += 1
                size += entry.stat(follow_symlinks=False).st_size
                if size > max_bytes:
                    raise too_large(f"its checkout holds more than {max_bytes} bytes", max_bytes)
    return files, size


class TreeBudget:
    """Sums blob sizes from ``git ls-tree -r -l -z`` output as it streams."""

    def __init__(self, max_bytes: int, max_files: int = 0) -> None:
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.files = 0
        self.size = 0
        self.error: PermanentError | None = None
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        if self.error is not None:
            return
        records = (self._partial + chunk).split(b"\0")
        self._partial = records.pop()
        for record in records:
            # "<mode> <type> <object> <size>\t<path>"; submodules have size "-".
            blob_size = record.partition(b"\t")[0].rsplit(b" ", 1)[-1].strip()
            if blob_size.isdigit():
                self.size += int(blob_size)
            self.files += 1
        # Many empty files weigh nothing but still cost inodes and time to check out.
        if self.max_files and self.files > self.max_files:
            self.error = PermanentError(
                f"repository too large: more than {self.max_files} files"
                f" (MAX_REPO_FILES={self.max_files})"
            )
        elif self.size > self.max_bytes:
            self.error = too_large(
                f"its files add up to more than {self.max_bytes} bytes", self.max_bytes
            )


def too_large(what: str, max_bytes: int) -> PermanentError:
    return PermanentError(f"repository too large: {what} (MAX_REPO_BYTES={max_bytes})")
