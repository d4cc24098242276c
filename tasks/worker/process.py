"""Start a Celery worker with this project's defaults."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import billiard.common
import redis
from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from analysis.load import load_engine
from checkout.github_token import CloneCredentials, development_key_warning
from checkout.workspace import Workspace
from fondation import keys
from fondation.errors import ConfigError
from fondation.redis_client import connect_redis
from fondation.settings import Settings
from tasks.step.celery_tasks import register_tasks
from tasks.step.runtime import RuntimeHolder
from tasks.worker.app import create_app
from tasks.worker.crash_restart import restart_process, shutdown_requested

log = logging.getLogger(__name__)


def build_worker_app(settings: Settings, redis_url: str) -> Celery:
    app = create_app(settings, redis_url)
    register_tasks(app, RuntimeHolder(settings, redis_url))
    return app


class LivenessBeat:
    """Writes the worker's key with a TTL from its main process: a cheap liveness check
    for the container, and the health view's list of workers."""

    def __init__(self, redis_url: str, name: str, queue: str, interval_s: float) -> None:
        self._redis = connect_redis(redis_url, socket_timeout_s=5, socket_connect_timeout_s=5)
        self._key = keys.worker_alive(name)
        self._queue = queue
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveness", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self._redis.delete(self._key)
        except redis.RedisError:
            pass

    def _run(self) -> None:
        ttl_ms = int(self._interval_s * 3000)
        while True:
            try:
                self._redis.set(self._key, self._queue, px=ttl_ms)
            except redis.RedisError as exc:
                log.warning("liveness beat failed: %s", exc)
            if self._stop.wait(self._interval_s):
                return


def run_worker(settings: Settings, redis_url: str, extra_args: list[str]) -> None:
    # Celery's SIGTERM is a warm shutdown that waits for running steps without limit;
    # `docker stop` would then SIGKILL it. Mapped to SIGQUIT, SIGTERM gives steps
    # WORKER_SOFT_SHUTDOWN_TIMEOUT, then hands the rest back to the queue.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    # billiard and Celery read it at their import, which may have come first: then
    # SIGTERM would be a warm stop that waits for every running step, and a `docker
    # stop` would end in a SIGKILL. Refuse to start so rather than stop badly later.
    if os.environ["REMAP_SIGTERM"] != billiard.common.REMAP_SIGTERM:
        raise ConfigError(
            "billiard was imported before REMAP_SIGTERM was set: start workers with"
            " `fondation worker`, or set REMAP_SIGTERM=SIGQUIT in their environment"
        )
    # Build the engine once now: a bad ANALYSIS_ENGINE or a missing Claude credential
    # stops the worker at start with the variable's name, not every job at its first step.
    load_engine(settings.analysis_engine)
    # Likewise a malformed ENCRYPTION_KEY, which would fail every private clone. A missing
    # one is the web app's development setup: it works, and the risk is said once here.
    CloneCredentials.from_settings(settings)
    if warning := development_key_warning(settings):
        log.warning(warning)
    removed = Workspace(settings.temp_dir).clean_stale(starting_pid=os.getpid())
    if removed:
        log.info("removed %d stale job folders left by dead workers", len(removed))
    app = build_worker_app(settings, redis_url)
    name = f"{settings.worker_id}@{socket.gethostname()}"
    beat = LivenessBeat(redis_url, name, settings.celery_queue, settings.worker_liveness_interval_s)

    def on_ready(**_: Any) -> None:
        beat.start()

    exit_codes: list[object] = []

    def on_shutdown(sender: Any = None, **_: Any) -> None:
        beat.stop()
        # The only place the worker's exit code can be read: app.start drops it.
        exit_codes.append(getattr(sender, "exitcode", None))

    worker_ready.connect(on_ready, weak=False)
    worker_shutdown.connect(on_shutdown, weak=False)
    argv = [
        "worker",
        "--hostname", name,
        "--queues", settings.celery_queue,
        "--concurrency", str(settings.worker_concurrency),
        "--loglevel", settings.log_level,
        *extra_args,
    ]  # fmt: skip
    started = time.monotonic()
    app.worker_main(argv)
    code = exit_codes[-1] if exit_codes else None
    if shutdown_requested() or code in (0, None):
        raise SystemExit(code)
    restart_process(code, time.monotonic() - started)
