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

from bridge.store.base import JobStore
from fondation.settings import Settings
from fondation.stores import open_store
from tasks.engines import load_engine
from tasks.engines.base import Engine
from tasks.workspace import Workspace


@dataclass
class WorkerRuntime:
    settings: Settings
    redis_url: str
    store: JobStore
    redis: redis.Redis
    engine: Engine
    workspace: Workspace
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
        self._lock = threading.Lock()

    def get(self) -> WorkerRuntime:
        with self._lock:
            if self._runtime is None or self._pid != os.getpid():
                self._runtime = WorkerRuntime(
                    settings=self.settings,
                    redis_url=self.redis_url,
                    store=open_store(self.settings),
                    redis=redis.Redis.from_url(
                        self.redis_url, socket_timeout=10, socket_connect_timeout=5
                    ),
                    engine=load_engine(self.settings.analysis_engine),
                    workspace=Workspace(self.settings.temp_dir),
                )
                self._pid = os.getpid()
            return self._runtime
