"""The wall clock in epoch milliseconds. Code that decides by the clock takes ``now_ms``
as a parameter; only the outermost loops call this."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
