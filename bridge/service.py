"""Run a bridge as a process: the loop, the wake listener and the health view, with
SIGTERM handled as a graceful stop. The Celery app it sends chains on is given by the
caller (the CLI builds it in tasks/worker/app.py): the bridge imports no worker module."""

from __future__ import annotations

import logging
import signal
from types import FrameType

from celery import Celery

from bridge.health import HealthServer
from bridge.loop import Bridge
from fondation.redis_client import connect_redis
from fondation.settings import Settings
from fondation.wake import WakeListener
from store.convex_watch import ConvexWatch
from store.open import open_store

log = logging.getLogger(__name__)


def build_bridge(settings: Settings, redis_url: str, app: Celery) -> Bridge:
    return Bridge(
        settings,
        open_store(settings),
        app,
        connect_redis(redis_url, socket_timeout_s=5, socket_connect_timeout_s=5),
    )


def _convex_watch(settings: Settings, bridge: Bridge) -> ConvexWatch | None:
    """On Convex, the web app's inserts announce nothing in Redis: a query subscription
    tells the bridge of ready jobs and of held jobs ended under it, and the store poll
    becomes a slow safety net (CONVEX_SAFETY_POLL_S)."""
    from store.convex import ConvexStore

    if not isinstance(bridge.store, ConvexStore) or not settings.convex_subscribe:
        return None
    assert settings.convex_url is not None
    assert settings.convex_worker_secret is not None
    watch = ConvexWatch(
        settings.convex_url,
        settings.convex_worker_secret.get_secret_value(),
        bridge.owner,
        bridge.watch.on_update,
        events=bridge.metrics,
        watchdog_s=settings.convex_watchdog_s,
        beat_s=settings.convex_watchdog_s / 4,
    )
    bridge.watch.attach(watch)
    bridge.store_poll_s = settings.convex_safety_poll_s
    watch.start()
    return watch


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
    watch = _convex_watch(settings, bridge)
    health.start()
    log.info("health view on port %d", health.port)
    try:
        bridge.run()
    finally:
        if watch is not None:
            watch.stop()
        listener.stop()
        health.stop()
        bridge.store.close()
