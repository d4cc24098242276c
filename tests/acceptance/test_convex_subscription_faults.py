"""A subscribed bridge (and a worker) on a stand-in of their own that fails under them:
it closes the sync socket, stops answering on it, or restarts empty. The bridge keeps
claiming (through its safety-net poll at worst), loses no job, and says so in /health."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fondation.clock import now_ms
from store.convex import ConvexStore
from store.records import JobSpec, RepositorySpec
from testbed import services
from testbed.convex_standin.fixture import OwnStandIn, make_convex_store
from testbed.gitrepo import make_repo

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(120)]

SAFETY_POLL_S = 3.0


class Stack:
    def __init__(self, tmp_path: Path, standin: OwnStandIn, bridge: services.Service) -> None:
        self.standin = standin
        self.bridge = bridge
        self.repo = make_repo(tmp_path / "shop")
        self.store: ConvexStore = make_convex_store(standin.url, standin.secret, send_clock=False)

    def insert(self) -> str:
        """A job inserted as the web app inserts one: nothing announced in Redis."""
        now = now_ms()
        repo = self.store.upsert_repository(
            RepositorySpec(user_id="web-user", name="shop", full_name="local/shop",
                           default_branch="main", clone_url=str(self.repo)),
            now,
        )  # fmt: skip
        job, _ = self.store.create_job(JobSpec(user_id="web-user", repository_id=repo.id), now)
        return job.id

    def wait_completed(self, job_ids: list[str], timeout_s: float = 60) -> None:
        services.wait_for(
            lambda: all(self.store.get_job(j).status == "completed" for j in job_ids),
            timeout_s,
            "the jobs to complete",
        )

    def subscription(self) -> dict[str, Any]:
        port = re.findall(r"health view on port (\d+)", self.bridge.log())[0]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as exc:  # 503: a check fails
            body = json.loads(exc.read())
        check: dict[str, Any] = body["checks"]["subscription"]
        return check

    def live(self) -> bool:
        return bool(self.subscription()["value"]["state"] == "live")


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, own_convex_standin: OwnStandIn) -> Iterator[Stack]:
    env = services.base_env(
        tmp_path, redis_url,
        JOB_STORE="convex", CONVEX_URL=own_convex_standin.url,
        CONVEX_WORKER_SECRET=own_convex_standin.secret, CONVEX_TIMEOUT="5",
        CONVEX_SAFETY_POLL_S=str(SAFETY_POLL_S), CONVEX_WATCHDOG_S="6",
    )  # fmt: skip
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    s = Stack(tmp_path, own_convex_standin, b)
    try:
        services.wait_for(lambda: "health view on port" in b.log(), 30, "the bridge to start")
        services.wait_for(s.live, 30, "the subscription")
        yield s
    finally:
        s.store.close()
        b.stop()
        w.stop()


def _picked_up_within(stack: Stack, seconds: float) -> str:
    job_id = stack.insert()
    started = time.monotonic()
    services.wait_for(lambda: stack.store.get_job(job_id).status != "pending", 30, "a claim")
    assert time.monotonic() - started < seconds
    return job_id


def test_a_closed_socket_or_a_restart_empty_is_followed_by_resubscription_and_no_job_is_lost(
    stack: Stack,
) -> None:
    done = [_picked_up_within(stack, 1.0)]

    stack.standin.standin.control(sync="close")
    # The client reconnects by itself; jobs inserted meanwhile are claimed all the same.
    done += [stack.insert() for _ in range(2)]
    stack.wait_completed(done)
    done.append(_picked_up_within(stack, 1.0))
    stack.wait_completed(done)

    stack.standin.restart()  # every job, and the bridge's held ones, are gone with it
    services.wait_for(stack.live, 30, "the subscription again")
    again = [stack.insert() for _ in range(2)]
    stack.wait_completed(again)
    assert stack.bridge.alive()


def test_a_silent_socket_leaves_pickup_to_the_safety_net_which_restarts_the_subscriber(
    stack: Stack,
) -> None:
    stack.standin.standin.control(sync="silent")
    job_id = stack.insert()
    # Nothing comes over the socket: the safety-net poll claims the job ...
    services.wait_for(
        lambda: stack.store.get_job(job_id).status != "pending",
        SAFETY_POLL_S * 3,
        "the safety net to claim the job",
    )
    stack.wait_completed([job_id])
    # ... finds that the subscription never announced it, and replaces the subscriber,
    # whose new socket is silent too: /health says so.
    # (The replacement follows the claim by a moment: wait for it, not for a tick.)
    services.wait_for(
        lambda: stack.subscription()["value"].get("restarts", 0) >= 1,
        SAFETY_POLL_S * 3,
        "the subscriber to be replaced",
    )
    check = stack.subscription()
    assert check["value"]["missed_jobs"] >= 1, check
    services.wait_for(
        lambda: not stack.subscription()["ok"], 40, "/health to report the subscription down"
    )
    assert "safety-net poll" in stack.subscription()["detail"]

    stack.standin.standin.control(sync="ok")  # the silent sockets are cut
    services.wait_for(stack.live, 40, "the subscription again")
    stack.wait_completed([_picked_up_within(stack, 1.0)])
