"""The bridge's Convex subscription, supervised: a child process holds it
(store/convex/subscriber.py), a thread here reads its lines, hands each new answer of
``worker/queue:watch`` to ``on_update``, and restarts the child when it exits, stops
beating (the watchdog), or is told to (``restart``, when the bridge's safety-net poll
found work the subscription never announced).

Why a child process and a watchdog: the PyPI client's blocking calls hold the GIL and
never return from a silent server (docs/CONVEX.md); a child can always be killed, and the
lease loop shares nothing with it. The child beats every ``beat_s`` from its asyncio
loop, so a child that stopped running is noticed within ``watchdog_s``. The client
itself reconnects and resubscribes after a drop; a server that keeps the socket open and
stops answering is noticed by the bridge's safety net (bridge/watch.py).

``on_update`` runs on this module's thread: it must be quick and thread-safe.
"""

from __future__ import annotations

import json
import logging
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from fondation.clock import SYSTEM_CLOCK, Clock
from store.convex.watch import WatchUpdate, parse_watch

log = logging.getLogger(__name__)

State = Literal["starting", "live", "down", "stopped"]
# A child that stayed up this long before failing restarts at once, not after a pause.
_STABLE_S = 60.0
# The longest a new child may take to write its first line.
_FIRST_BEAT_S = 15.0


class WatchEvents(Protocol):
    """What the supervisor reports, for the bridge's metrics."""

    def subscription_state(self, up: bool) -> None: ...

    def subscription_restarted(self, reason: str) -> None: ...

    def subscription_updated(self) -> None: ...


@dataclass(frozen=True)
class WatchStatus:
    state: State
    since_s: float
    restarts: int
    updates: int
    last_update_age_s: float | None
    last_error: str | None
    # A subscriber still without its first answer after this long is failing.
    start_grace_s: float


def subscriber_command() -> list[str]:
    return [sys.executable, "-m", "store.convex.subscriber"]


class ConvexWatch:
    """Keeps one subscription to ``worker/queue:watch`` alive for ``owner``."""

    def __init__(
        self,
        url: str,
        secret: str,
        owner: str,
        on_update: Callable[[WatchUpdate], None],
        *,
        events: WatchEvents | None = None,
        beat_s: float = 5.0,
        watchdog_s: float = 20.0,
        max_backoff_s: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        command: list[str] | None = None,
    ) -> None:
        if watchdog_s <= beat_s:
            raise ValueError("watchdog_s must exceed beat_s")
        self._config = {"url": url, "secret": secret, "owner": owner, "beat_s": beat_s}
        self._on_update = on_update
        self._events = events
        self._watchdog_s = watchdog_s
        self._max_backoff_s = max_backoff_s
        self._clock = clock
        self._command = command or subscriber_command()
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._restart_reason = ""
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._state: State = "stopped"
        self._since = clock.monotonic()
        self._restarts = 0
        self._updates = 0
        self._last_update_mono: float | None = None
        self._last_error: str | None = None

    # --- control ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the subscription is already running")
        self._thread = threading.Thread(target=self._run, name="convex-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._kill()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._set_state("stopped")

    def restart(self, reason: str) -> None:
        """Replace the child now (from any thread)."""
        self._restart_reason = reason
        self._restart.set()

    def status(self) -> WatchStatus:
        with self._lock:
            now = self._clock.monotonic()
            last = self._last_update_mono
            return WatchStatus(
                state=self._state,
                since_s=round(now - self._since, 3),
                restarts=self._restarts,
                updates=self._updates,
                last_update_age_s=None if last is None else round(now - last, 3),
                last_error=self._last_error,
                start_grace_s=self._watchdog_s,
            )

    # --- the supervisor's thread --------------------------------------------------

    def _run(self) -> None:
        backoff_s = 0.5
        while not self._stop.is_set():
            started = self._clock.monotonic()
            try:
                reason = self._run_child()
            except Exception as exc:  # the supervisor itself must outlive any child
                log.exception("convex subscription supervisor error")
                reason = f"failed: {type(exc).__name__}: {exc}"
            if self._stop.is_set():
                return
            with self._lock:
                self._restarts += 1
            self._set_state("down")
            if self._events is not None:
                self._events.subscription_restarted(reason)
            log.warning("convex subscription restarts: %s", reason)
            if self._clock.monotonic() - started >= _STABLE_S or reason.startswith("asked"):
                backoff_s = 0.5
            else:
                self._clock.wait(self._stop, backoff_s)
                backoff_s = min(backoff_s * 2, self._max_backoff_s)

    def _run_child(self) -> str:
        """Run one child until it fails; the reason it ended."""
        self._restart.clear()
        self._set_state("starting")
        try:
            proc = subprocess.Popen(
                self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None
            )
        except OSError as exc:
            return f"could not start: {exc}"
        self._proc = proc
        try:
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.write((json.dumps(self._config) + "\n").encode())
            proc.stdin.flush()
            return self._read(proc)
        except OSError as exc:
            return f"pipe failed: {exc}"
        finally:
            self._kill()

    def _read(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        last_line = self._clock.monotonic()
        # A new process imports the client before its first beat: on a loaded machine
        # that takes seconds, which must not count as a hang.
        allowed_s = max(self._watchdog_s, _FIRST_BEAT_S)
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while not self._stop.is_set():
                if self._restart.is_set():
                    return f"asked: {self._restart_reason}"
                silent_s = self._clock.monotonic() - last_line
                if silent_s >= allowed_s:
                    return f"watchdog: no beat for {silent_s:.0f} s"
                if not sel.select(min(0.5, allowed_s - silent_s)):
                    continue
                allowed_s = self._watchdog_s
                chunk = proc.stdout.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    return f"exited with {proc.wait()}"
                last_line = self._clock.monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._line(json.loads(line))
        return "stopped"

    def _line(self, message: dict[str, Any]) -> None:
        if "value" in message:
            update = parse_watch(message["value"])
            with self._lock:
                self._updates += 1
                self._last_update_mono = self._clock.monotonic()
                self._last_error = None
            self._set_state("live")
            if self._events is not None:
                self._events.subscription_updated()
            self._on_update(update)
        elif "error" in message:
            # The query fails (a wrong secret): no answer will come until it is fixed.
            with self._lock:
                self._last_error = str(message["error"])
            self._set_state("down")
            log.error("convex subscription refused: %s", message["error"])

    def _set_state(self, state: State) -> None:
        with self._lock:
            if state == self._state:
                return
            self._state = state
            self._since = self._clock.monotonic()
        if self._events is not None:
            self._events.subscription_state(state == "live")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
