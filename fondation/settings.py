"""Settings, built once at start-up from the environment and passed down.

Nothing reads the environment at import time. Variable names of today's Node worker are
kept (CONVEX_URL, WORKER_ID, POLL_INTERVAL, LEASE_TIME, HEARTBEAT_INTERVAL,
MAX_CONCURRENT_JOBS, TEMP_DIR); intervals are in seconds.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fondation.errors import ConfigError

# A day. Larger values are almost surely milliseconds from an old configuration.
_MAX_INTERVAL_S = 86_400.0


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Settings(BaseSettings):
    """Every setting, its environment variable (the field name in capitals, or the
    alias) and its default. ``fondation --help`` and the README list them."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True
    )

    # --- the job store ---
    job_store: Literal["auto", "sqlite", "convex"] = Field(
        default="auto",
        description="Job store: sqlite, convex, or auto (convex when CONVEX_URL is set).",
    )
    sqlite_path: Path = Field(
        default=Path(".fondation/fondation.db"), description="SQLite job store file."
    )
    convex_url: str | None = Field(
        default=None, description="Convex deployment URL; selects the Convex store."
    )
    convex_worker_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Shared secret the Convex queue functions check (FONDATION_WORKER_SECRET there)."
        ),
    )
    convex_timeout: float = Field(default=10.0, gt=0, description="Convex HTTP timeout, s.")
    convex_watch_interval: float = Field(
        default=1.0,
        ge=0,
        description="Seconds between the bridge's probes for ready Convex jobs (0: off).",
    )

    # --- the bridge ---
    worker_id: str = Field(
        default_factory=_default_worker_id,
        description="Name of this bridge or worker in leases and logs; generated when unset.",
    )
    poll_interval: float = Field(default=5.0, gt=0, description="Seconds between polls.")
    lease_time: float = Field(default=300.0, gt=0, description="Lease length, s.")
    heartbeat_interval: float = Field(
        default=60.0, gt=0, description="Seconds between lease renewals."
    )
    max_concurrent_jobs: int = Field(default=4, ge=1, description="Jobs one bridge holds at once.")
    queue_high_water: int = Field(
        default=2,
        ge=0,
        description="Claim only while fewer tasks than this wait in the Celery queue.",
    )
    listen_wakeups: bool = Field(
        default=True,
        description="Claim at once when a client announces a job, or a worker a finished"
        " one, in Redis.",
    )
    reclaim_batch: int = Field(default=100, ge=1, description="Expired leases reclaimed per tick.")
    health_host: str = Field(default="0.0.0.0", description="Health view bind address.")  # noqa: S104
    health_port: int = Field(default=8080, ge=0, le=65535, description="Health view port.")
    flower_url: str | None = Field(
        default=None, description="Flower's address as operators reach it, for task links."
    )

    # --- Celery and Redis ---
    redis_url: str | None = Field(
        default=None, description="Redis for Celery; unset starts an embedded Redis."
    )
    celery_queue: str = Field(default="fondation", description="Celery queue of the steps.")
    worker_concurrency: int = Field(default=2, ge=1, description="Worker processes per worker.")
    worker_liveness_interval: float = Field(
        default=2.0, gt=0, description="Seconds between a worker's liveness beats in Redis."
    )
    step_soft_time_limit: float = Field(
        default=1800.0, gt=0, description="Soft time limit of one step, s."
    )
    step_time_limit: float = Field(
        default=1860.0, gt=0, description="Hard time limit of one step, s (kills the process)."
    )
    visibility_timeout: int = Field(
        default=7200, gt=0, description="Redis visibility timeout, s; exceeds any step."
    )
    task_events: bool = Field(
        default=True, description="Send Celery task events (Flower needs them)."
    )
    store_outage_grace: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a step rides out a store outage before its attempt fails.",
    )
    max_deliveries: int = Field(
        default=3, ge=1, description="Deliveries of one step before the attempt fails."
    )
    worker_soft_shutdown_timeout: float = Field(
        default=20.0, ge=0, description="Seconds a stopping worker lets a step finish."
    )

    # --- work and analysis ---
    temp_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "fondation",
        description="Checkouts and scratch space; cleaned after each job.",
    )
    course_language: str = Field(
        default="English",
        description=(
            "Language the Claude engine writes courses in (the offline engine writes English only)."
        ),
    )
    analysis_engine: str = Field(
        default="offline",
        description="offline, claude, or module:Class of another Engine.",
    )
    allowed_git_hosts: str = Field(
        default="github.com", description="Comma-separated https hosts repositories may come from."
    )
    allow_local_repos: bool = Field(
        default=False, description="Accept local paths as repositories (embedded mode)."
    )
    git_token: SecretStr | None = Field(
        default=None,
        description=(
            "Token for private repositories on a store without users (SQLite); never"
            " written to disk. On Convex each clone uses its repository owner's token."
        ),
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description=(
            "The web app's ENCRYPTION_KEY (64 hex characters): decrypts the users'"
            " GitHub tokens (enc_v1_) for private clones on Convex."
        ),
    )
    clone_depth: int = Field(default=1, ge=1, description="Shallow clone depth.")
    max_repo_bytes: int = Field(
        default=500_000_000, gt=0, description="Refuse checkouts larger than this."
    )
    max_repo_files: int = Field(
        default=200_000, gt=0, description="Refuse checkouts with more files than this."
    )

    progress_language: Literal["fr", "en"] = Field(
        default="fr",
        description=(
            "Language of the job's progress text the web app shows (fr or en); logs stay English."
        ),
    )
    progress_timezone: str = Field(
        default="Europe/Paris",
        description='Time zone of the times in the job\'s progress text ("resuming around 15:00").',
    )

    # --- logs ---
    log_level: str = Field(default="INFO", description="Log level.")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json, text, or auto (json when not a terminal)."
    )

    @field_validator("poll_interval", "lease_time", "heartbeat_interval")
    @classmethod
    def _seconds(cls, value: float) -> float:
        if value > _MAX_INTERVAL_S:
            raise ValueError(
                f"{value} is more than a day; this setting is in seconds, not milliseconds"
            )
        return value

    @field_validator("progress_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, UTC)") from exc
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.heartbeat_interval >= self.lease_time:
            raise ValueError(
                "HEARTBEAT_INTERVAL must be shorter than LEASE_TIME "
                f"({self.heartbeat_interval} >= {self.lease_time})"
            )
        if self.step_time_limit <= self.step_soft_time_limit:
            raise ValueError("STEP_TIME_LIMIT must exceed STEP_SOFT_TIME_LIMIT")
        if self.visibility_timeout <= self.step_time_limit:
            raise ValueError("VISIBILITY_TIMEOUT must exceed STEP_TIME_LIMIT")
        if self.store_kind == "convex" and not self.convex_url:
            raise ValueError("JOB_STORE=convex needs CONVEX_URL")
        if self.store_kind == "convex" and self.convex_worker_secret is None:
            raise ValueError("the Convex store needs CONVEX_WORKER_SECRET")
        return self

    @property
    def store_kind(self) -> Literal["sqlite", "convex"]:
        if self.job_store == "auto":
            return "convex" if self.convex_url else "sqlite"
        return self.job_store

    @property
    def lease_ms(self) -> int:
        return int(self.lease_time * 1000)

    @property
    def git_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allowed_git_hosts.split(",") if h.strip())


def load_settings(**overrides: object) -> Settings:
    """Build the settings; a bad value becomes a ``ConfigError`` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            lines.append(f"{where}: {err['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from exc


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for --help and the README."""
    rows = []
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "(generated)" if name == "worker_id" else "(computed)"
        else:
            default = "" if field.default is None else str(field.default)
        rows.append((name.upper(), default, field.description or ""))
    return rows
