"""Settings, built once at start-up from the environment and passed down.

Nothing reads the environment at import time. The Node worker's variables keep its names,
units and defaults (CONVEX_URL, WORKER_ID, POLL_INTERVAL, LEASE_TIME and HEARTBEAT_INTERVAL
in milliseconds, MAX_CONCURRENT_JOBS, TEMP_DIR), so its .env works unchanged. Every field
carries its unit in its Python name (``poll_interval_ms``, ``step_time_limit_s``); where
the environment variable's name does not (the Node worker's, and the ones operators
already set), the field's alias is the variable, and ``fondation settings`` prints the
unit beside it.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fondation.errors import ConfigError
from fondation.redis_url import parse_redis_url

# The Node worker's intervals are milliseconds. Below this a value was almost surely
# written in seconds (POLL_INTERVAL=5), and would make the bridge spin; above a day it
# was not meant either.
_MIN_NODE_INTERVAL_MS = 100
_MAX_NODE_INTERVAL_MS = 86_400_000


def _env(variable: str) -> Any:
    """The field is set by ``variable`` in the environment (its Python name says the unit)."""
    return {"alias": variable}


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
    convex_timeout_s: float = Field(
        default=10.0, gt=0, description="Convex HTTP timeout.", **_env("CONVEX_TIMEOUT")
    )
    convex_subscribe: bool = Field(
        default=True,
        description="On Convex, learn of ready and ended jobs through a query subscription"
        " (false: poll every POLL_INTERVAL).",
    )
    convex_safety_poll_s: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="Between the bridge's safety-net polls of Convex while it is subscribed.",
    )
    convex_watchdog_s: float = Field(
        default=20.0,
        gt=5.0,
        le=86_400,
        description="Without a beat from the subscription's process before it is replaced.",
    )

    # --- the bridge ---
    worker_id: str = Field(
        default_factory=_default_worker_id,
        description="Name of this bridge or worker in leases and logs; generated when unset.",
    )
    poll_interval_ms: int = Field(
        default=5000,
        description="Between polls of the store (the Node worker's variable and unit).",
        **_env("POLL_INTERVAL"),
    )
    lease_time_ms: int = Field(
        default=300_000,
        description="Lease length (the Node worker's variable and unit).",
        **_env("LEASE_TIME"),
    )
    heartbeat_interval_ms: int = Field(
        default=60_000,
        description="Between lease renewals (the Node worker's variable and unit).",
        **_env("HEARTBEAT_INTERVAL"),
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
    redis_url: SecretStr | None = Field(
        default=None,
        description=(
            "Redis for Celery and the wake-ups: redis://, rediss:// (TLS) or sentinel://"
            " (compose/README.md); unset starts an embedded Redis."
        ),
    )
    celery_queue: str = Field(default="fondation", description="Celery queue of the steps.")
    worker_concurrency: int = Field(default=2, ge=1, description="Worker processes per worker.")
    worker_liveness_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="Between a worker's liveness beats in Redis.",
        **_env("WORKER_LIVENESS_INTERVAL"),
    )
    step_soft_time_limit_s: float = Field(
        default=1800.0,
        gt=0,
        description="Soft time limit of one step.",
        **_env("STEP_SOFT_TIME_LIMIT"),
    )
    step_time_limit_s: float = Field(
        default=1860.0,
        gt=0,
        description="Hard time limit of one step (kills the process).",
        **_env("STEP_TIME_LIMIT"),
    )
    visibility_timeout_s: int = Field(
        default=7200,
        gt=0,
        description="Redis visibility timeout; exceeds any step.",
        **_env("VISIBILITY_TIMEOUT"),
    )
    task_events: bool = Field(
        default=True, description="Send Celery task events (Flower needs them)."
    )
    store_outage_grace_s: float = Field(
        default=60.0,
        ge=0,
        description="How long a step rides out a store outage before its attempt fails.",
        **_env("STORE_OUTAGE_GRACE"),
    )
    max_deliveries: int = Field(
        default=3, ge=1, description="Deliveries of one step before the attempt fails."
    )
    worker_soft_shutdown_timeout_s: float = Field(
        default=20.0,
        ge=0,
        description="How long a stopping worker lets a step finish.",
        **_env("WORKER_SOFT_SHUTDOWN_TIMEOUT"),
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
            " GitHub tokens (enc_v1_) for private clones on Convex. Unset: the web app's"
            " development key, with a warning at start; production sets it."
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
    # Not a duration: the zone is named "progress_zone" so the unit check reads it right.
    progress_zone: str = Field(
        default="Europe/Paris",
        **_env("PROGRESS_TIMEZONE"),
        description='Time zone of the times in the job\'s progress text ("resuming around 15:00").',
    )

    # --- logs ---
    log_level: str = Field(default="INFO", description="Log level.")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json, text, or auto (json when not a terminal)."
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_address(cls, value: SecretStr | None) -> SecretStr | None:
        # Refused at start with the variable's name; the message never holds the URL.
        if value is not None and value.get_secret_value():
            try:
                parse_redis_url(value.get_secret_value())
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("REDIS_URL: ")) from None
        return value

    @field_validator("poll_interval_ms", "lease_time_ms", "heartbeat_interval_ms")
    @classmethod
    def _milliseconds(cls, value: int) -> int:
        if value < _MIN_NODE_INTERVAL_MS:
            raise ValueError(
                f"{value} ms is too short: this setting is in milliseconds, as in the Node"
                f" worker (5 seconds is 5000), and at least {_MIN_NODE_INTERVAL_MS} ms"
            )
        if value > _MAX_NODE_INTERVAL_MS:
            raise ValueError(f"{value} ms is more than a day")
        return value

    @field_validator("progress_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, UTC)") from exc
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.heartbeat_interval_ms >= self.lease_time_ms:
            raise ValueError(
                "HEARTBEAT_INTERVAL must be shorter than LEASE_TIME "
                f"({self.heartbeat_interval_ms} ms >= {self.lease_time_ms} ms; both are in"
                " milliseconds, as in the Node worker)"
            )
        if self.step_time_limit_s <= self.step_soft_time_limit_s:
            raise ValueError("STEP_TIME_LIMIT must exceed STEP_SOFT_TIME_LIMIT")
        if self.visibility_timeout_s <= self.step_time_limit_s:
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
        return self.lease_time_ms

    @property
    def poll_interval_s(self) -> float:
        return self.poll_interval_ms / 1000

    @property
    def heartbeat_interval_s(self) -> float:
        return self.heartbeat_interval_ms / 1000

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


def unit_of(field_name: str) -> str:
    """The unit a field's Python name ends in (``_ms``, ``_s``), or "" for none."""
    for suffix, unit in (("_ms", "ms"), ("_s", "s")):
        if field_name.endswith(suffix):
            return unit
    return ""


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for --help and the README; the meaning ends with the
    unit in brackets where the setting has one."""
    return [
        (variable, default, meaning + (f" [{unit_of(name)}]" if unit_of(name) else ""))
        for variable, name, default, meaning in setting_rows()
    ]


def setting_rows() -> list[tuple[str, str, str, str]]:
    """(variable, field name, default, meaning) of every setting; the field name ends in
    the unit."""
    rows = []
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "(generated)" if name == "worker_id" else "(computed)"
        else:
            default = "" if field.default is None else str(field.default)
        rows.append(((field.alias or name).upper(), name, default, field.description or ""))
    return rows


def shown_value(settings: Settings, field_name: str) -> str:
    """A setting's current value as an operator may see it: secrets only as set or unset,
    the password of a URL masked; REDIS_URL (a secret) with every password masked."""
    value = getattr(settings, field_name)
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        if field_name == "redis_url" and value.get_secret_value():
            # Its Sentinel form holds two passwords, one in the query: parsed, not split.
            return parse_redis_url(value.get_secret_value()).redacted()
        return "(set)"
    text = str(value)
    return _without_password(text) if "://" in text else text


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
