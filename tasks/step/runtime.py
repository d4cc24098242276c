"""Per-process worker state: settings, store, Redis, engine and workspace.

A Celery prefork child must not use connections opened by its parent, so the runtime is
built lazily in each process (and dropped after a fork) instead of at import.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field

import redis

from analysis.engine import Engine
from analysis.load import load_engine
from checkout.github_token import CloneCredentials
from checkout.workspace import Workspace
from fondation.redis_client import connect_redis
from fondation.settings import Settings
from store.base import JobStore
from store.open import open_store
from tasks.step.watchdog import Watchdog


@dataclass
class WorkerRuntime:
    settings: Settings
    redis_url: str
    store: JobStore
    redis: redis.Redis
    engine: Engine
    workspace: Workspace
    watchdog: Watchdog
    credentials: CloneCredentials
    hostname: str = field(default_factory=socket.gethostname)

    @property
    def worker_name(self) -> str:
        return f"{self.hostname}:{os.getpid()}"


class RuntimeHolder:
    """Builds the runtime on first use in each process."""

    def __init__(self, settings: Settings, redis_url: str) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self._runtime: WorkerRuntime | None = None
        self._pid = -1
        # Built in the worker's main process; pool children inherit it.
        self._main_pid = os.getpid()
        self._lock = threading.Lock()

    def get(self) -> WorkerRuntime:
        with self._lock:
            if self._runtime is None or self._pid != os.getpid():
                s = self.settings
                store = open_store(s)
                client = connect_redis(
                    self.redis_url, socket_timeout_s=10, socket_connect_timeout_s=5
                )
                self._runtime = WorkerRuntime(
                    settings=s,
                    redis_url=self.redis_url,
                    store=store,
                    redis=client,
                    engine=load_engine(s.analysis_engine),
                    workspace=Workspace(s.temp_dir, owner_pid=self._main_pid),
                    watchdog=Watchdog(
                        store=store,
                        redis_client=client,
                        lease_ms=s.lease_ms,
                        liveness_interval_s=s.worker_liveness_interval_s,
                        heartbeat_interval_s=s.heartbeat_interval_s,
                    ),
                    credentials=CloneCredentials.from_settings(s),
                )
                self._pid = os.getpid()
            return self._runtime
