"""A test engine: small valid artifacts from the checkout's file list, a ledger line at
every step start and finish, and optional delays, crashes and hangs set through the
environment of the worker process (the worker is a subprocess, so env is how a test
speaks to it).

LEDGER_PATH      file to append "<pid> start|finish <job> <step> <unix time>" lines to
STEP_DELAY_S     seconds every step sleeps (default 0); STEP_DELAY_<n>_S for step n
REVIEW_CHAPTER_DELAY_S  seconds each chapter's review takes after step 5's delay; the
                 step reports each chapter as reviewed (a "reviewed <job> <index>" line)
POISON_STEP      step number that kills its own process with SIGKILL every time
FAIL_STEP        step number that raises a RuntimeError every time (with FAIL_PERMANENT
                 set, a PermanentError: the job fails at once)
DELAY_FIRST_RUN_ONLY  when set, a step that already started once for the job runs at once
IGNORE_SOFT_LIMIT  when set, a step sleeps on through Celery's soft time limit
SPAWN_CHILD_PIDFILE  when set, each step starts a long `sleep` in its own process group
                   (as the Claude CLI runs), registers it and appends its pid here
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Chapter,
    ChaptersArtifact,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
    Tutorial,
    TutorialsArtifact,
)
from analysis.engine import Engine, StepContext
from fondation.errors import PermanentError


def _ledger(ctx: StepContext, event: str, step: int) -> None:
    path = os.environ.get("LEDGER_PATH")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {event} {ctx.job_id} {step} {time.time():.3f}\n")
            f.flush()
            os.fsync(f.fileno())


def _started_before(ctx: StepContext, step: int) -> bool:
    path = os.environ.get("LEDGER_PATH")
    if not path or not os.path.exists(path):
        return False
    needle = f" start {ctx.job_id} {step} "
    with open(path, encoding="utf-8") as f:
        return any(needle in line for line in f)


def _work(ctx: StepContext, step: int) -> None:
    rerun = _started_before(ctx, step)
    _ledger(ctx, "start", step)
    if os.environ.get("POISON_STEP") == str(step):
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("FAIL_STEP") == str(step):
        if os.environ.get("FAIL_PERMANENT"):
            raise PermanentError(f"step {step} always fails")
        raise RuntimeError(f"step {step} always fails")
    pidfile = os.environ.get("SPAWN_CHILD_PIDFILE")
    if pidfile and ctx.process_groups is not None:
        child = subprocess.Popen(["sleep", "600"], start_new_session=True)
        ctx.process_groups.add(child.pid)
        with open(pidfile, "a", encoding="utf-8") as f:
            f.write(f"{child.pid}\n")
    delay = float(os.environ.get(f"STEP_DELAY_{step}_S", os.environ.get("STEP_DELAY_S", "0")))
    if rerun and os.environ.get("DELAY_FIRST_RUN_ONLY"):
        delay = 0.0
    _sleep(ctx, delay)


def _sleep(ctx: StepContext, delay: float) -> None:
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        try:
            ctx.cancel.check()
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        except SoftTimeLimitExceeded:
            if not os.environ.get("IGNORE_SOFT_LIMIT"):
                raise
    ctx.cancel.check()


def _files(root: Path) -> list[str]:
    out = []
    for p in sorted(root.rglob("*")):
        if ".git" in p.parts or not p.is_file() or p.is_symlink():
            continue
        out.append(p.relative_to(root).as_posix())
    return out or ["README"]


class LedgerEngine(Engine):
    name = "ledger"

    def extract_abstractions(self, ctx: StepContext) -> AbstractionsArtifact:
        _work(ctx, 1)
        files = _files(ctx.checkout)
        art = AbstractionsArtifact(
            project_name=ctx.checkout.name,
            summary=f"{len(files)} files",
            abstractions=[
                Abstraction(id=f"a{i}", name=f, summary=f"file {f}", files=[f])
                for i, f in enumerate(files[:3])
            ],
        )
        _ledger(ctx, "finish", 1)
        return art

    def analyze_relationships(self, ctx: StepContext) -> RelationshipsArtifact:
        _work(ctx, 2)
        ids = [a.id for a in ctx.need_abstractions().abstractions]
        art = RelationshipsArtifact(summary="chain", relationships=[])
        _ledger(ctx, "finish", 2)
        del ids
        return art

    def determine_order(self, ctx: StepContext) -> OrderArtifact:
        _work(ctx, 3)
        art = OrderArtifact(order=[a.id for a in ctx.need_abstractions().abstractions])
        _ledger(ctx, "finish", 3)
        return art

    def generate_chapters(self, ctx: StepContext) -> ChaptersArtifact:
        _work(ctx, 4)
        by_id = {a.id: a for a in ctx.need_abstractions().abstractions}
        chapters = [
            Chapter(
                index=i + 1,
                abstraction_id=aid,
                slug=aid,
                title=by_id[aid].name,
                content=f"# {by_id[aid].name}\n\nAbout {by_id[aid].files[0]}.\n",
            )
            for i, aid in enumerate(ctx.need_order().order)
        ]
        _ledger(ctx, "finish", 4)
        return ChaptersArtifact(chapters=chapters)

    def review_chapters(self, ctx: StepContext) -> ReviewArtifact:
        _work(ctx, 5)
        chapters = ctx.need_chapters().chapters
        for chapter in chapters:
            _sleep(ctx, float(os.environ.get("REVIEW_CHAPTER_DELAY_S", "0")))
            ctx.chapter_reviewed(chapter)
            _ledger(ctx, "reviewed", chapter.index)
        art = ReviewArtifact(chapters=chapters)
        _ledger(ctx, "finish", 5)
        return art

    def create_tutorials(self, ctx: StepContext) -> TutorialsArtifact:
        _work(ctx, 6)
        first = ctx.need_review().chapters[0]
        art = TutorialsArtifact(
            tutorials=[Tutorial(index=1, slug="t1", title="Read", content=f"Read {first.title}.")]
        )
        _ledger(ctx, "finish", 6)
        return art
