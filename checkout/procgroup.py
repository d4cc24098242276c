"""Process groups a step started (git, the Claude CLI), recorded as files under the job's
folder. Whoever outlives the step can then kill them: the worker's parent process after
a hard time limit killed the step's process, or the step itself on cancel."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


class ProcessGroups:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def add(self, pgid: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / str(pgid)).touch()

    def discard(self, pgid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / str(pgid)).unlink()

    def kill_all(self) -> list[int]:
        """SIGKILL every recorded group; returns the groups that were still alive."""
        killed: list[int] = []
        if not self.directory.is_dir():
            return killed
        for entry in self.directory.iterdir():
            if not entry.name.isdigit():
                continue
            pgid = int(entry.name)
            try:
                os.killpg(pgid, signal.SIGKILL)
                killed.append(pgid)
            except (ProcessLookupError, PermissionError):
                pass
            entry.unlink(missing_ok=True)
        return killed
