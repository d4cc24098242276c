"""The retry schedule shared by every store.

The TypeScript functions read the same numbers from convex/functions/worker/lib/shared.json;
tests/unit/test_shared_rules.py pins these equal to it.
"""

from __future__ import annotations

import random

BASE_DELAY_MS = 5_000
GROWTH = 2
MAX_DELAY_MS = 600_000
MAX_JITTER_MS = 5_000


def backoff_ms(attempts: int) -> int:
    """Delay before the next try after ``attempts`` failed tries: min(5 s * 2^(n-1), 10 min)."""
    if attempts < 1:
        return 0
    # Cap the exponent first so a huge attempts count cannot build a huge integer.
    exponent = min(attempts - 1, 20)
    return int(min(BASE_DELAY_MS * (GROWTH**exponent), MAX_DELAY_MS))


def draw_jitter_ms(rng: random.Random | None = None) -> int:
    """0-5 s of jitter, so that jobs failed together do not come back together."""
    return (rng or random).randint(0, MAX_JITTER_MS)
