"""Read while it writes: each chapter shows on the web app's course page as soon as its
review ends. A job the web app creates runs on a real bridge and worker against the
Convex stand-in; the test reads what the course page reads (the job and
``docs.listByJobId``) through our model of the page, as a user refreshing it would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.records import JobSpec
from testbed import services
from testbed.convex_standin.fixture import StandIn, make_convex_store
from testbed.convex_standin.stack import running_stack
from testbed.convex_standin.webapp import WebApp
from testbed.gitrepo import make_repo
from tests.support.course_page import CourseView

pytestmark = pytest.mark.acceptance

FULL_NAME = "octocat/shop"
FINAL = {"completed", "failed", "canceled", "dead"}
# The ledger engine writes a chapter per file of the repository, up to three.
CHAPTERS = 3


def web_job(tmp_path: Path, web: WebApp) -> tuple[str, str, str]:
    """A signed-in user's repository and a job from its Generate button: (user,
    repository, job)."""
    repo = make_repo(tmp_path / "shop")
    user = web.sign_in("octocat", token="gho_plain_token_of_the_user")
    repository = web.add_repository(user, FULL_NAME, clone_url=str(repo))
    return user, repository, web.regenerate(user, repository, FULL_NAME)


def watch(
    web: WebApp, job_id: str, timeout_s: float = 90
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The job and its docs, as the page's reactive queries see them, until it ends."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = web.job(job_id)
        yield job, web.docs(job_id)
        if job["status"] in FINAL:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end in {timeout_s} s: {web.job(job_id)}")


def warnings(tmp_path: Path) -> list[str]:
    """The worker's warnings and errors, to tell why a test job went another way."""
    log = tmp_path / "logs" / "worker.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [
        line[:300] for line in lines if '"level": "warning"' in line or '"level": "error"' in line
    ][-20:]


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, convex_standin: StandIn) -> Iterator[WebApp]:
    """Reviews of a second a chapter, then tutorials that take two. Liveness beats every
    second (the suite's 0.3 s lets a loaded machine's bridge take a slow beat for lost
    work, and the retried job would show its first chapters under "analyzing")."""
    with running_stack(
        tmp_path, redis_url, convex_standin,
        STEP_DELAY_S="0.1", REVIEW_CHAPTER_DELAY_S="1.0", STEP_DELAY_6_S="2",
        WORKER_LIVENESS_INTERVAL="1",
    ) as web:  # fmt: skip
        yield web


def test_chapter_one_is_readable_while_the_job_runs_then_the_whole_course_with_no_duplicate(
    tmp_path: Path, stack: WebApp
) -> None:
    web = stack
    _, _, job_id = web_job(tmp_path, web)
    running: list[tuple[dict[str, Any], CourseView, list[dict[str, Any]]]] = []
    for job, docs in watch(web, job_id):
        view = CourseView.of(job, docs)
        if job["status"] != "completed" and view.shows == "course":
            running.append((job, view, docs))
    assert running, "no chapter showed before the job completed"

    job, first, docs = running[0]
    assert first.course is not None
    assert (job["status"], first.badge) == ("running", "Génération..."), (
        job.get("attempts"),
        warnings(tmp_path),
    )
    assert first.course.chapter_titles()[0].startswith("1. ")
    assert first.course.chapters[0]["content"].strip()
    assert first.step_line == f"Étape 5 sur 6: Chapitres prêts : 1 sur {CHAPTERS}"
    assert first.course.references == []
    assert first.course.tutorials == []
    # Then every chapter, in order, the count going up, before the tutorials are done
    # (the last count shows only until the tutorials' step starts, at once).
    lines = [view.step_line for _, view, _ in running]
    counted = [line for line in lines if line and "Chapitres prêts" in line]
    assert counted == sorted(counted)
    assert f"Étape 5 sur 6: Chapitres prêts : 2 sur {CHAPTERS}" in counted
    assert "Étape 6 sur 6: Étape 6/6: Génération de tutoriels interactifs" in lines
    last_job, last, _ = running[-1]
    assert last.course is not None
    assert len(last.course.chapters) == CHAPTERS
    assert last_job["status"] == "running"
    assert [d["chapterIndex"] for d in last.course.chapters] == list(range(1, CHAPTERS + 1))

    job = web.job(job_id)
    docs = web.docs(job_id)
    done = CourseView.of(job, docs)
    assert done.course is not None
    assert (job["status"], done.badge, done.step_line) == ("completed", "Terminé", None)
    # The save completes the course without a second copy of any chapter: the page's
    # dedupe hides nothing, docsCount counts what it shows, and the chapter stored
    # first is the same document, with its key.
    assert job["docsCount"] == len(done.course.shown()) == len(docs)
    assert len({d["slug"] for d in docs}) == len(docs)
    assert [d["chapterIndex"] for d in done.course.chapters] == list(range(1, CHAPTERS + 1))
    assert done.course.tutorials
    assert {d["kind"] for d in done.course.references} == {"yaml", "toc"}
    early = running[0][1].course.chapters[0]  # type: ignore[union-attr]
    final = next(d for d in docs if d["slug"] == early["slug"])
    assert (final["_id"], final["createdAt"]) == (early["_id"], early["createdAt"])
    assert final["sourceKey"].endswith(f":chapter:{final['slug'].split('-', 1)[1]}")


@pytest.mark.parametrize("end", ["failed", "dead", "canceled"])
def test_a_job_that_ends_without_completing_keeps_its_chapters_under_a_badge_that_says_so(
    tmp_path: Path, redis_url: str, convex_standin: StandIn, end: str
) -> None:
    # The tutorials fail (for good, or on the last attempt) or take long enough to cancel.
    fault = {"STEP_DELAY_6_S": "30"} if end == "canceled" else {"FAIL_STEP": "6"}
    if end == "failed":
        fault["FAIL_PERMANENT"] = "1"
    with running_stack(
        tmp_path, redis_url, convex_standin, STEP_DELAY_S="0.1", **fault
    ) as web:  # fmt: skip
        user, repository, regenerated = web_job(tmp_path, web)
        job_id = regenerated
        if end == "dead":
            # Two attempts, the second's failure the last (the web's jobs get five): the
            # chapters the first stored stay through the retry.
            web.cancel(regenerated)
            store = make_convex_store(convex_standin.url, convex_standin.secret)
            try:
                spec = JobSpec(user_id=user, repository_id=repository, max_attempts=2)
                job_id = store.create_job(spec, int(time.time() * 1000))[0].id
            finally:
                store.close()
        if end == "canceled":
            services.wait_for(
                lambda: (
                    web.job(job_id).get("currentStep") == 6 and len(web.docs(job_id)) == CHAPTERS
                ),
                60,
                "the chapters to show while the tutorials run",
            )
            web.cancel(job_id)
        job, docs = list(watch(web, job_id))[-1]
        assert job["status"] == end, (job.get("error"), job.get("lastError"))
        view = CourseView.of(job, docs)
        # The repository's course stays its latest completed one: here, none.
        assert web.latest_completed(repository) is None

    # The chapters written are kept and readable, under the job's own status badge:
    # red "Échoué" or grey "Annulé", never "Terminé"; no progress bar; no index or
    # references (only a completed course has them); docsCount is never set.
    assert view.shows == "course", (job.get("lastError"), warnings(tmp_path))
    assert view.course is not None
    assert len(view.course.chapters) == CHAPTERS
    assert view.badge == {"failed": "Échoué", "dead": "Échoué", "canceled": "Annulé"}[end]
    assert view.step_line is None
    assert view.course.references == []
    assert view.course.tutorials == []
    assert job.get("docsCount") is None
    if end == "failed":
        assert view.error_box is not None
        assert "step 6 always fails" in view.error_box
