"""The health view of a running bridge: /health, /metrics read by Prometheus's own
parser, the JSON variant, and the dashboard page in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cli.submit import submit_job
from fondation.settings import load_settings
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo

# What Prometheus sends when it scrapes.
SCRAPER_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"
)

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _health_port(b: services.Service) -> int:
    found: list[int] = []

    def seen() -> bool:
        m = re.search(r"health view on port (\d+)", b.log())
        if m:
            found.append(int(m.group(1)))
        return bool(found)

    services.wait_for(seen, 20, "the health view to listen")
    return found[0]


@pytest.fixture
def stack(tmp_path: Path, redis_url: str):  # type: ignore[no-untyped-def]
    env = services.base_env(
        tmp_path,
        redis_url,
        # Six steps of 1 s: the dashboard refreshes every 2 s, so it sees the job at
        # least twice part-way (0.6 s steps, run faster than they used to, left one).
        STEP_DELAY_S="1.0",
        CONVEX_WORKER_SECRET="must-not-leak",
        GIT_TOKEN="ghp_mustnotleak",
    )
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    yield store, settings, f"http://127.0.0.1:{_health_port(b)}", make_repo(tmp_path / "r")
    b.stop()
    w.stop()


def test_health_metrics_and_json_after_a_job(stack, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    store, settings, base, repo = stack
    job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
    services.wait_for(lambda: store.get_job(job.id).status == "completed", 60, "the job")
    services.wait_for(
        lambda: httpx.get(f"{base}/health").json()["checks"]["workers"]["ok"], 10, "workers"
    )
    health = httpx.get(f"{base}/health")
    assert health.status_code == 200
    checks = health.json()["checks"]
    assert {"loop", "store", "redis", "workers", "oldest_pending", "leases", "queue"} <= set(checks)

    def completed_count() -> float:
        text = httpx.get(f"{base}/metrics", headers={"Accept": SCRAPER_ACCEPT}).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for s in families["fondation_jobs"].samples
        }
        return samples.get(("fondation_jobs_total", (("event", "completed"),)), 0.0)

    services.wait_for(lambda: completed_count() == 1.0, 10, "the completed counter")
    text = httpx.get(f"{base}/metrics", headers={"Accept": SCRAPER_ACCEPT}).text
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {
        "fondation_pickup_latency_seconds",
        "fondation_job_duration_seconds",
        "fondation_step_duration_seconds",
        "fondation_queue_depth",
        "fondation_jobs_in_flight",
        "fondation_workers",
        "fondation_lease_renewals",
        "fondation_leases_lost",
    } <= names
    as_json = httpx.get(f"{base}/metrics", headers={"Accept": "application/json"}).json()
    assert as_json["fondation_jobs"]["type"] == "counter"
    # The runbook's `curl -s localhost:8080/metrics | jq`: curl sends Accept: */*.
    curl = subprocess.run(
        ["curl", "-s", f"{base}/metrics"], capture_output=True, text=True, check=True, timeout=30
    )
    assert json.loads(curl.stdout)["fondation_jobs"]["type"] == "counter"
    for path in ("/health", "/metrics", "/api/state", "/"):
        body = httpx.get(f"{base}{path}").text
        assert "must-not-leak" not in body
        assert "mustnotleak" not in body


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_dashboard_shows_a_job_moving_through_its_steps(stack, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    store, settings, base, repo = stack
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.goto(base + "/")
        job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        row = page.locator(f'tr[data-job="{job.id}"]')
        seen_done: set[int] = set()
        for _ in range(300):
            if row.count():
                seen_done.add(row.locator(".step.completed").count())
                if row.get_attribute("data-status") == "completed":
                    break
            page.wait_for_timeout(100)
        assert row.get_attribute("data-status") == "completed"
        # The page refreshes itself: the job was seen part-way, not only at the end.
        assert len([n for n in seen_done if 0 < n < 8]) >= 2, seen_done
        assert row.locator(".step.completed").count() == 8
        page.screenshot(path=str(Path(repo).parent / "dashboard.png"))
        browser.close()
