"""What a bridge shows of itself: an immutable snapshot that ``Bridge.snapshot`` gives on
its injected clock. The health view reads only this, never the loop's private state, and
sets nothing while it reads."""

from __future__ import annotations

from dataclasses import dataclass

from store.convex_watch import WatchStatus


@dataclass(frozen=True)
class HeldLease:
    """A job this bridge holds, and when its lease ends in the store (epoch ms)."""

    job_id: str
    lease_until_ms: int | None


@dataclass(frozen=True)
class SubscriptionView:
    """The bridge's Convex subscription (bridge/watch.py), on Convex only."""

    status: WatchStatus
    missed_jobs: int  # safety-net claims the subscription never announced
    safety_poll_s: float


@dataclass(frozen=True)
class BridgeSnapshot:
    owner: str
    now_ms: int  # the bridge's clock when the snapshot was taken
    since_last_tick_s: float | None  # None until the loop has ticked once
    held: tuple[HeldLease, ...]
    store_failures: int  # consecutive store calls that failed; 0 when it answers
    subscription: SubscriptionView | None = None

    def leases_near_expiry(self, within_ms: float) -> list[str]:
        """The held jobs whose lease ends within ``within_ms``: renewals are failing."""
        return [
            lease.job_id
            for lease in self.held
            if lease.lease_until_ms is not None and lease.lease_until_ms - self.now_ms < within_ms
        ]
