"""CPU time of benchmark processes, read from /proc: where a job's CPU goes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    own_s: float  # the process itself
    reaped_s: float  # children it waited for (git, for pool processes)


def usage(pid: int) -> Usage:
    # Fields after the command name, which may hold spaces: utime stime cutime cstime.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return Usage(
        own_s=(int(fields[11]) + int(fields[12])) * _TICK_S,
        reaped_s=(int(fields[13]) + int(fields[14])) * _TICK_S,
    )


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (a Celery worker's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Meter:
    """CPU seconds spent by named groups of processes while ``measuring``; segments add up.
    What pool processes reaped (their git commands) is counted as "git"."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.spent: dict[str, float] = {}

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        before = {pid: usage(pid) for pids in self.groups.values() for pid in pids}
        yield
        for name, pids in self.groups.items():
            for pid in pids:
                now, was = usage(pid), before[pid]
                self._add(name, now.own_s - was.own_s)
                self._add("git", now.reaped_s - was.reaped_s)

    def _add(self, name: str, seconds: float) -> None:
        if seconds:
            self.spent[name] = self.spent.get(name, 0.0) + seconds

    def per_unit_ms(self, units: int) -> dict[str, float]:
        return {name: s * 1000 / units for name, s in self.spent.items()}
