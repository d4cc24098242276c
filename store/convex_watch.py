"""Prompt pickup of Convex jobs: wake the bridge when work appears, between its polls.

A Convex query subscription would push changes, but it needs the WebSocket sync
protocol: the ``convex`` PyPI client speaks it, holds the GIL while it waits and has
no timeout, so it could only live in a child process of its own, and nothing here can
test it (the stand-in speaks HTTP only). This module does the simple thing instead: a
daemon thread probes ``queue:readyCount`` (a bounded read of a few documents) every
``interval_s`` over plain HTTP, and calls ``on_wake`` when new work is ready. Each
probe is one Convex function call, which Convex bills; see docs/CONVEX.md for the cost
of an interval.

``on_wake`` must be quick and thread-safe: setting a ``threading.Event`` the bridge
waits on, or publishing to a Redis channel. The bridge still polls on its own schedule,
so a missed wake-up only costs the time to the next poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from fondation.errors import StoreAuthError, StoreUnavailable
from store.convex import ConvexStore, ReadyProbe

log = logging.getLogger(__name__)

# After this many failed probes in a row the pause doubles, up to the cap.
_MAX_PAUSE_S = 30.0


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class ReadyWatcher:
    """Calls ``on_wake`` soon after a job becomes ready on the Convex store."""

    def __init__(
        self,
        store: ConvexStore,
        on_wake: Callable[[], None],
        *,
        interval_s: float = 1.0,
        clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._store = store
        self._on_wake = on_wake
        self._interval_s = interval_s
        self._clock_ms = clock_ms
        self._last: ReadyProbe | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.probes = 0
        self.wakes = 0
        self.error: Exception | None = None

    def poll_once(self) -> bool:
        """Probe once; call ``on_wake`` and return True when new work is ready."""
        probe = self._store.ready_probe(self._clock_ms())
        self.probes += 1
        last, self._last = self._last, probe
        if probe.ready == 0:
            return False
        news = last is None or probe.ready > last.ready or probe.newest_job_id != last.newest_job_id
        if news:
            self.wakes += 1
            self._on_wake()
        return news

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the watcher is already running")
        self._thread = threading.Thread(target=self._run, name="convex-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        pause_s = self._interval_s
        while not self._stop.is_set():
            try:
                self.poll_once()
                pause_s = self._interval_s
            except StoreAuthError as exc:
                # Will not heal by itself; the bridge's own calls report it too.
                log.error("convex watch stops: %s", exc)
                self.error = exc
                return
            except StoreUnavailable as exc:
                pause_s = min(pause_s * 2, _MAX_PAUSE_S)
                log.warning("convex watch probe failed (%s); next in %.1f s", exc, pause_s)
            except Exception as exc:  # the thread must not die silently
                log.exception("convex watch probe failed")
                self.error = exc
                pause_s = min(pause_s * 2, _MAX_PAUSE_S)
            self._stop.wait(pause_s)
