"""The cancel signal of one step: set by the step's watchdog when the job is canceled or its
lease is lost, read by the clone, the engines and the subprocess runners. It lives on the
ground floor because every layer that does a step's work polls it."""

from __future__ import annotations

import threading

from fondation.errors import JobCanceled


class CancelToken:
    """Set by the step's watchdog when the job is canceled or its lease is lost.

    Engines call ``check()`` between units of work; subprocess runners poll ``is_set``.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        # True when the job's lease was lost (taken over), False for a requested cancel.
        self.lease_lost = False

    def cancel(self, reason: str, *, lease_lost: bool = False) -> None:
        if not self._event.is_set():
            self.reason = reason
            self.lease_lost = lease_lost
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        return self._event.wait(timeout_s)

    def check(self) -> None:
        if self._event.is_set():
            raise JobCanceled(self.reason or "canceled")
