"""Start Flower on the project's broker. Basic auth comes from FLOWER_BASIC_AUTH
(user:password), which Flower reads itself; state persists in ``db_path``."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def flower_argv(redis_url: str, port: int, db_path: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "celery", "--broker", redis_url, "flower",
        f"--port={port}", "--persistent=True", f"--db={db_path}",
        "--purge_offline_workers=300", *extra,
    ]  # fmt: skip


def run_flower(redis_url: str, port: int, db_path: Path, extra: list[str]) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    argv = flower_argv(redis_url, port, db_path, extra)
    os.execv(argv[0], argv)
