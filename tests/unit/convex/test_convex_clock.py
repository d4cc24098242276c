"""Leases on Convex follow the deployment's clock: a bridge whose clock is minutes off
moves nothing. The store sends no ``now`` unless built for a test deployment."""

from __future__ import annotations

import time

from store.records import JobSpec, RepositorySpec
from testbed.convex_standin.fixture import StandIn, make_convex_store

LEASE = 60_000
SKEW = 10 * 60_000


def test_a_skewed_bridge_clock_changes_nothing_about_leases(standin: StandIn) -> None:
    store = make_convex_store(standin.url, standin.secret, send_clock=False)
    try:
        repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), 0)
        store.create_job(JobSpec(user_id="u", repository_id=repo.id), 0)
        server_ms = time.time() * 1000
        # Ten minutes behind: a lease timed by this clock would be expired on arrival.
        [claim] = store.claim_batch("b1", 1, LEASE, int(server_ms) - SKEW)
        assert claim.job.lease_until is not None
        assert abs(claim.job.lease_until - (server_ms + LEASE)) < 5_000
        # Ten minutes ahead: a reclaim timed by this clock would take the job away.
        assert store.reclaim_expired(int(server_ms) + SKEW, 10) == []
        state = store.renew(claim.job.id, claim.lease_token, LEASE, int(server_ms) - SKEW)
        assert abs(state.lease_until - (time.time() * 1000 + LEASE)) < 5_000
        assert store.get_job(claim.job.id).status == "claimed"
    finally:
        store.close()
