"""The `fondation` command group and what its commands share: settings read once,
the store opened with a clean error, the Redis of a running `fondation up`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from fondation.errors import ConfigError, FondationError
from fondation.settings import Settings, describe_settings, load_settings
from store.base import JobStore
from store.open import open_store
from store.records import JobRecord

STATE_DIR = Path(".fondation")


def cli_settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def redis_url(settings: Settings) -> str | None:
    """REDIS_URL, or the embedded Redis of a running ``fondation up``."""
    if settings.redis_url is not None and settings.redis_url.get_secret_value():
        return settings.redis_url.get_secret_value()
    marker = STATE_DIR / "redis.url"
    return marker.read_text().strip() if marker.exists() else None


def _settings_epilog() -> str:
    rows = [
        f"  {name:<30} {default or '-':<22} {meaning}"
        for name, default, meaning in describe_settings()
    ]
    return "Environment variables (default, meaning):\n\n\b\n" + "\n".join(rows)


@click.group(epilog=_settings_epilog(), context_settings={"max_content_width": 120})
def cli() -> None:
    """Fondation worker: turn a repository into a course, with Celery workers."""


def job_dict(job: JobRecord) -> dict[str, Any]:
    return job.model_dump(by_alias=True, exclude={"callback_token", "lease_token"})


def open_job_store(settings: Settings) -> JobStore:
    try:
        return open_store(settings)
    except FondationError as exc:
        raise click.ClickException(str(exc)) from exc
