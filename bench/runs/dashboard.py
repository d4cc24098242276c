"""What one refresh of the bridge's dashboard costs on Convex, in function calls and bytes
received: the 30 newest jobs with their step states, read as states alone
(``step_states``, today) and with every artifact (``get_steps``, what it read before), side
by side on the same stand-in and the same jobs."""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.runs.row import Row
from bridge.loop import Bridge
from bridge.status import dashboard_state
from fondation.redis_client import redis_answers
from fondation.settings import load_settings
from fondation.steps import STEPS
from store.base import JobStore
from store.records import JobSpec, RepositorySpec
from tasks.worker.app import create_app
from testbed.convex_standin.fixture import make_convex_store, start_standin, stop_standin

# Artifact sizes of an 8-chapter course (bytes, by step): the chapters and their review
# are the large ones.
ARTIFACT_BYTES = {0: 1_000, 1: 30_000, 2: 15_000, 3: 2_000, 4: 150_000, 5: 160_000, 6: 60_000}
JOBS = 30


class CountingTransport(httpx.BaseTransport):
    """Counts the bytes of every response body the store receives."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.received = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.received += len(response.content)
        return response

    def close(self) -> None:
        self.inner.close()


def _seed(store: JobStore, jobs: int) -> None:
    now = int(time.time() * 1000)
    repo = store.upsert_repository(
        RepositorySpec(user_id="web", name="shop", full_name="local/shop"), now
    )
    for _ in range(jobs):
        store.create_job(JobSpec(user_id="web", repository_id=repo.id), now)
    for claim in store.claim_batch("bench", jobs, 600_000, now + 1):
        job_id, token = claim.job.id, claim.lease_token
        for step in range(len(STEPS) - 1):
            store.begin_step(job_id, token, step, "w", now + 2)
            body = "x" * ARTIFACT_BYTES[step]
            store.finish_step(job_id, token, step, f'{{"content": "{body}"}}', now + 3)


def _legacy_refresh(store: JobStore) -> None:
    """The store reads of a refresh before step states: every step with its artifact."""
    for job in store.list_jobs(limit=JOBS):
        store.get_steps(job.id)
    store.count_by_status()


def dashboard_refresh() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, standin = start_standin(secrets.token_hex(16), Path(tmp))
        try:
            counting = CountingTransport()
            store = make_convex_store(standin.url, standin.secret, transport=counting)
            _seed(store, JOBS)
            redis_url = "redis://127.0.0.1:6379/15"
            settings = load_settings(convex_url=standin.url, convex_worker_secret=standin.secret)
            client = redis.Redis.from_url(
                redis_url if redis_answers(redis_url) else "redis://127.0.0.1:1/0"
            )
            bridge = Bridge(settings, store, create_app(settings, redis_url), client)

            def measure(refresh: Callable[[], Any]) -> tuple[int, int]:
                calls_before, bytes_before = standin.stats()["calls"], counting.received
                refresh()
                return standin.stats()["calls"] - calls_before, counting.received - bytes_before

            now_calls, now_bytes = measure(lambda: dashboard_state(bridge, None))
            old_calls, old_bytes = measure(lambda: _legacy_refresh(store))
            store.close()
        finally:
            stop_standin(proc)
    return [
        Row(
            f"Dashboard refresh on Convex ({JOBS} jobs)",
            f"{now_calls} calls, {now_bytes / 1024:.0f} KiB received",
            f"{old_calls} calls, {old_bytes / 1024:.0f} KiB (steps read with their artifacts)",
            "no artifact read",
            now_bytes < old_bytes,
            f"each job with its 7 step artifacts stored ({sum(ARTIFACT_BYTES.values()) // 1000} kB"
            " a job); the refresh reads list_jobs, one step_states per job and count_by_status",
        )
    ]
