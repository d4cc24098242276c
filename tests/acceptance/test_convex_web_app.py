"""Compatibility with the real web app: jobs created as its front end creates them
(through the test model of its Convex functions, ``convex/tests/webapp``) run through
the real bridge and Celery workers on the Convex stand-in, show French progress while
they run, and leave a course the web's course page shows well."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.progress import chapters_ready_progress, moment_text, step_progress
from testbed import services
from testbed.convex_standin.fixture import StandIn, make_convex_store
from testbed.convex_standin.stack import running_stack
from testbed.convex_standin.webapp import WebApp
from testbed.gitrepo import make_repo
from tests.support.course_page import CoursePage, relative_md_links

pytestmark = pytest.mark.acceptance

FULL_NAME = "octocat/shop"
# What the page lists under "Références" is structure, not a second copy of the course.
SMALL_REFERENCE_BYTES = 64 * 1024
FRENCH_PROGRESS = {step_progress(step, "fr") for step in range(8)} | {
    moment_text("claimed", "fr"),
    "Initializing regeneration...",  # the web's own text until the job is claimed
    # Each chapter stored as its review ends (the ledger engine writes up to three).
    *(chapters_ready_progress(ready, total, "fr") for total in (1, 2, 3) for ready in (1, 2, 3)),
}


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, convex_standin: StandIn) -> Iterator[WebApp]:
    """The stack with steps slow enough to watch their progress."""
    with running_stack(tmp_path, redis_url, convex_standin, STEP_DELAY_S="0.4") as web:
        yield web


def web_job(tmp_path: Path, web: WebApp) -> tuple[str, str]:
    """A signed-in user's repository (a local folder) and a job from its Generate button."""
    repo = make_repo(tmp_path / "shop")
    user = web.sign_in("octocat", token="gho_plain_token_of_the_user")
    repository = web.add_repository(user, FULL_NAME, clone_url=str(repo))
    return repository, web.regenerate(user, repository, FULL_NAME)


def first_user(web: WebApp, job_id: str) -> str:
    return str(web.job(job_id)["userId"])


def run_and_watch(
    web: WebApp, job_id: str, timeout_s: float = 120
) -> tuple[dict[str, Any], set[str]]:
    """Poll the job as the web's status badge does until it is final; the texts seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = web.job(job_id)
        if job.get("progress"):
            seen.add(job["progress"])
        if job["status"] in {"completed", "failed", "canceled", "dead"}:
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end in {timeout_s} s: {web.job(job_id)}")


def test_jobs_the_web_app_creates_run_to_completed_with_french_progress_and_a_course_shown_well(
    tmp_path: Path, stack: WebApp
) -> None:
    web = stack
    repository, first = web_job(tmp_path, web)
    job, seen = run_and_watch(web, first)
    assert job["status"] == "completed", (job.get("error"), job.get("lastError"))
    assert seen <= FRENCH_PROGRESS | {moment_text("completed", "fr")}, seen
    assert any(text.startswith("Étape ") for text in seen), seen
    assert job["progress"] == moment_text("completed", "fr")
    assert isinstance(job["result"]["data"], str)

    second = web.regenerate(first_user(web, first), repository, FULL_NAME)
    job, _ = run_and_watch(web, second)
    assert job["status"] == "completed", (job.get("error"), job.get("lastError"))
    # The repository keeps one course: the latest, which /course/<o>/<r>/latest opens.
    assert web.docs(first) == []
    latest = web.latest_completed(repository)
    assert latest is not None
    assert latest["_id"] == second
    # The same tree again: every doc is the previous course's (the previous digest is
    # read with the save step's start, this one kept with the completion).
    shown = len(web.docs(second))
    assert job["regenerationStats"] == {
        "inserted": 0, "updated": 0, "skipped": shown, "rejected": 0, "deleted": 0
    }  # fmt: skip

    page = CoursePage.of(web.docs(second))
    indexes = [d["chapterIndex"] for d in page.chapters]
    assert page.chapters
    assert indexes == sorted(set(indexes))
    assert all(title.split(". ", 1)[1] for title in page.chapter_titles())
    assert page.tutorials
    assert {d["kind"] for d in page.references} <= {"yaml", "toc"}


def test_the_course_page_counts_what_it_shows_and_has_no_broken_links_or_large_references(
    tmp_path: Path, stack: WebApp
) -> None:
    web = stack
    _, job_id = web_job(tmp_path, web)
    job, _ = run_and_watch(web, job_id)
    assert job["status"] == "completed", (job.get("error"), job.get("lastError"))
    page = CoursePage.of(web.docs(job_id))
    # docsCount is what the user sees: every doc the page lists, none hidden by a
    # repeated title.
    assert job["docsCount"] == len(page.shown()) == len(web.docs(job_id))
    assert job["result"]["data"] == f"{job['docsCount']} documents"
    for doc in page.shown():
        assert relative_md_links(doc["content"]) == [], doc["slug"]
        assert doc["content"].endswith("\n"), doc["slug"]
        assert "\r" not in doc["content"], doc["slug"]
        assert doc["content"].count("```") % 2 == 0, doc["slug"]
    chapter_text = {d["content"] for d in page.chapters}
    for doc in page.references:
        assert len(doc["content"].encode()) <= SMALL_REFERENCE_BYTES, doc["slug"]
        assert not any(text and text in doc["content"] for text in chapter_text), doc["slug"]


def test_the_web_apps_cancel_stops_the_running_step_within_seconds(
    tmp_path: Path, redis_url: str, convex_standin: StandIn
) -> None:
    # Renewals every 60 s: the stop must come from the bridge seeing the job ended (its
    # subscription tells it at once) and the worker's next look at its cancel flag.
    slow_renewals = {"HEARTBEAT_INTERVAL": "60000", "LEASE_TIME": "180000"}
    with running_stack(
        tmp_path, redis_url, convex_standin, STEP_DELAY_2_S="60", **slow_renewals
    ) as web:
        _, job_id = web_job(tmp_path, web)
        services.wait_for(lambda: web.job(job_id).get("currentStep") == 2, 60, "step 2 to run")
        time.sleep(0.5)
        web.cancel(job_id)
        canceled_at = time.monotonic()
        store = make_convex_store(convex_standin.url, convex_standin.secret)
        try:
            services.wait_for(
                lambda: any("Canceled during" in line.msg for line in store.get_logs(job_id)),
                30,
                "the running step to stop",
            )
        finally:
            store.close()
        assert time.monotonic() - canceled_at < 30
        ledger = (tmp_path / "ledger.txt").read_text().splitlines()
        assert not [line for line in ledger if line.split()[1:4:2] == ["finish", "2"]], ledger
        time.sleep(2)
        assert web.job(job_id)["status"] == "canceled"
