"""The issue's scenario end to end: a bridge and a Celery worker on SQLite, the real CLI,
and an API that answers every call with 429 (retry-after 600, the unified headers) for a
while. The job waits without spending an attempt, its progress and /health say why, and
it completes once the limit lifts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cli.submit import submit_job
from fondation.settings import load_settings
from store.sqlite import SqliteStore
from testbed import services
from testbed.claude_api import limits
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY
from testbed.claude_api.scenarios import recorded
from testbed.claude_api.server import ScriptedApi
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.integration

REFUSED_S = 12.0
SCRAPER_ACCEPT = "text/plain;version=0.0.4"


def _health_port(b: services.Service) -> int:
    found: list[int] = []

    def seen() -> bool:
        m = re.search(r"health view on port (\d+)", b.log())
        if m:
            found.append(int(m.group(1)))
        return bool(found)

    services.wait_for(seen, 20, "the health view to listen")
    return found[0]


def _paused_gauge(base: str) -> float:
    text = httpx.get(f"{base}/metrics", headers={"Accept": SCRAPER_ACCEPT}).text
    for family in text_string_to_metric_families(text):
        if family.name == "fondation_claude_paused":
            return sum(s.value for s in family.samples if s.labels["reason"] == "rate_limit")
    return -1.0


def test_a_rate_limited_job_waits_without_spending_an_attempt_and_completes_after(
    tmp_path: Path, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "shop")
    lifts_at = time.monotonic() + REFUSED_S
    reset = int(time.time() + REFUSED_S)
    scenario = limits.failing_until(
        lifts_at,
        lambda: limits.rate_limited(600, unified_reset_epoch_s=reset),
        recorded("success"),
    )
    with ScriptedApi(scenario) as api:
        env = services.base_env(
            tmp_path,
            redis_url,
            ANALYSIS_ENGINE="claude",
            CLAUDE_BIN=str(CLAUDE_BIN),
            ANTHROPIC_API_KEY=FAKE_API_KEY,
            ANTHROPIC_BASE_URL=api.url,
            CLAUDE_TIMEOUT_S="60",
            # The API's retry-after is 600 s; the CLI hides it. Scaled down: the fleet
            # waits 3 s at a time, and a step waits 1 s at most before giving its job back.
            CLAUDE_RATE_LIMIT_WAIT_S="3",
            CLAUDE_STEP_WAIT_S="1",
            PROGRESS_LANGUAGE="en",
        )
        store = SqliteStore(Path(env["SQLITE_PATH"]))
        settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
        w = services.worker(tmp_path, env)
        b = services.bridge(tmp_path, env)
        progress: set[str] = set()
        health: list[tuple[int, str]] = []
        gauges: list[float] = []
        shown: list[str] = []
        try:
            base = f"http://127.0.0.1:{_health_port(b)}"
            job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
            while time.monotonic() < lifts_at:
                progress.add(store.get_job(job.id).progress or "")
                answer = httpx.get(f"{base}/health")
                claude = answer.json()["checks"].get("claude")
                if claude is not None:
                    health.append((answer.status_code, claude["detail"]))
                gauges.append(_paused_gauge(base))
                dashboard = httpx.get(f"{base}/api/state").json()["claude"]
                if dashboard is not None:
                    shown.append(dashboard["detail"])
                time.sleep(0.3)
            services.wait_for(lambda: store.get_job(job.id).is_final, 150, "the job to end")
            final = store.get_job(job.id)
            assert final.status == "completed", (final, w.log()[-3000:])
        finally:
            b.stop()
            w.stop()

    assert final.attempts == 0
    waiting = "Waiting: Claude rate limit reached, resuming around"
    assert any(p.startswith(waiting) for p in progress), progress
    # /health said why while it lasted, and stayed 200: the limit passes by itself.
    paused = [(code, detail) for code, detail in health if "paused (rate_limit)" in detail]
    assert paused, health
    assert {code for code, _ in paused} == {200}
    assert 1.0 in gauges
    assert any("paused (rate_limit)" in line for line in shown), shown
    refused = [r for r in api.messages() if r.at < lifts_at]
    # Each pause lets one probe call through: a handful of requests, not a storm.
    assert 1 <= len(refused) <= REFUSED_S / 3 + 3, len(refused)
