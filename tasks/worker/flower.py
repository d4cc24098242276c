"""Start Flower on the project's broker. Basic auth comes from FLOWER_BASIC_AUTH
(user:password), which Flower reads itself; state persists in ``db_path``.

Flower runs in this process on the project's own Celery app (``app.start``), not as
``celery --broker URL flower``: the app carries what a URL cannot (a Sentinel master's
name, the TLS options), and the broker's password stays out of the process's arguments,
which any user of the host can read (``ps``)."""

from __future__ import annotations

from pathlib import Path

from fondation.settings import Settings
from tasks.worker.app import create_app


def flower_argv(port: int, db_path: Path, extra: list[str]) -> list[str]:
    """The ``celery`` command line after the program name; it names no broker."""
    return [
        "flower",
        f"--port={port}", "--persistent=True", f"--db={db_path}",
        "--purge_offline_workers=300", *extra,
    ]  # fmt: skip


def run_flower(
    settings: Settings, redis_url: str, port: int, db_path: Path, extra: list[str]
) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, redis_url)
    app.start(flower_argv(port, db_path, extra))
