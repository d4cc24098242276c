"""A benchmark's row in docs/BENCHMARKS.md, and the machine it ran on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    name: str
    value: str
    reference: str
    goal: str
    met: bool | None
    note: str = ""


def machine() -> str:
    import platform

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB,"
        f" Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
