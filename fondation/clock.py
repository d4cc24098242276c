"""The project's clock: the wall clock in epoch milliseconds, the monotonic clock in
seconds, and the waits between turns of a loop.

Code that decides by the clock takes ``now_ms`` as a parameter; the loops that call it
(the bridge's lease loop, a step, the watchdog, the store-retry helper) are given a
``Clock`` in their constructor, ``SYSTEM_CLOCK`` by default. ``FakeClock`` is the second
implementation and ships beside the first, as an in-memory store would: it holds no test
machinery, only time that moves when told, so tests, benchmarks and replays may use it,
and lint and mypy check it with the production code it stands for.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """The wall clock, epoch milliseconds (what the store records)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes back (what intervals use)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        """Wait until ``event`` is set or ``timeout_s`` passed; True when it is set."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        return event.wait(timeout_s)


SYSTEM_CLOCK: Clock = SystemClock()


def now_ms() -> int:
    return SYSTEM_CLOCK.now_ms()


class FakeClock:
    """Time that moves only when told: by ``advance``, or by a ``sleep`` or an unanswered
    ``wait`` of the code that uses it, which return at once with the time moved on (the
    waits are recorded in ``slept``). Both clocks move together."""

    def __init__(self, now_ms: int = 1_700_000_000_000, monotonic_s: float = 1_000.0) -> None:
        self._lock = threading.Lock()
        self._wall_ms = float(now_ms)
        self._mono_s = monotonic_s
        self.slept: list[float] = []

    def now_ms(self) -> int:
        with self._lock:
            return int(self._wall_ms)

    def monotonic(self) -> float:
        with self._lock:
            return self._mono_s

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go back")
        with self._lock:
            self._mono_s += seconds
            self._wall_ms += seconds * 1000

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(seconds, 0.0))

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        if event.is_set():
            return True
        self.sleep(timeout_s)
        return event.is_set()
