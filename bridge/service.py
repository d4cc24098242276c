"""Run a bridge as a process: the loop, the wake listener and the health view, with
SIGTERM handled as a graceful stop. The Celery app it sends chains on is given by the
caller (the CLI builds it in tasks/worker/app.py): the bridge imports no worker module."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

from celery import Celery

from bridge.health import HealthServer
from bridge.loop import Bridge
from fondation.redis_client import connect_redis
from fondation.settings import Settings
from fondation.wake import WakeListener
from store.open import open_store

log = logging.getLogger(__name__)


def build_bridge(settings: Settings, redis_url: str, app: Celery) -> Bridge:
    return Bridge(
        settings,
        open_store(settings),
        app,
        connect_redis(redis_url, socket_timeout_s=5, socket_connect_timeout_s=5),
    )


def _convex_watcher(settings: Settings, bridge: Bridge) -> Any:
    """Jobs inserted in Convex by the web app announce nothing in Redis: probe for them
    between polls, so pickup does not wait a whole POLL_INTERVAL."""
    from store.convex import ConvexStore
    from store.convex_watch import ReadyWatcher

    if not isinstance(bridge.store, ConvexStore) or settings.convex_watch_interval_s <= 0:
        return None
    watcher = ReadyWatcher(
        bridge.store, bridge.wake.set, interval_s=settings.convex_watch_interval_s
    )
    watcher.start()
    return watcher


def run_bridge(settings: Settings, redis_url: str, app: Celery) -> None:
    bridge = build_bridge(settings, redis_url, app)
    listener = WakeListener(redis_url, bridge.wake)
    health = HealthServer(bridge, settings.health_host, settings.health_port, settings.flower_url)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after handing work back", signum)
        bridge.stopping.set()
        bridge.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if settings.listen_wakeups:
        listener.start()
    watcher = _convex_watcher(settings, bridge)
    health.start()
    log.info("health view on port %d", health.port)
    try:
        bridge.run()
    finally:
        if watcher is not None:
            watcher.stop()
        listener.stop()
        health.stop()
        bridge.store.close()
