"""Read while it writes: when each chapter of an eight-chapter job becomes readable, on
the real Claude Code CLI through a bridge and a worker, against the scripted API.

The API answers after the seed's step times scaled by 0.05 (bench/claude_cli_run.py),
each call's time drawn as a model's varies: the seed's time times a log-normal factor
(median 1, sigma 0.3, so half the calls fall within about -18 % and +22 % of it),
clipped to 0.5-2x and drawn from the call's own prompt, so a run is reproducible
whatever order the calls arrive in. A chapter is readable when the job store holds its
doc (what the course page's reactive query reads), polled every 20 ms. A review ends
when its CLI call ends: the call's ``.meta.json``, written as the CLI exits, before the
engine checks the answer and reports the chapter.
"""

from __future__ import annotations

import hashlib
import random
import re
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.claude_cli_run import CHAPTERS, SCALE, SEED_STEP_S, answers
from bench.stack import Stack
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY
from testbed.claude_api.server import Failure, Reply, Request, ScriptedApi, answer

SIGMA = 0.3
_REVIEW_META = re.compile(r"^review-(\d+)-.*\.meta\.json$")


def varied_delay_s(title: str, prompt: str, scale: float, seed: int) -> float:
    """The seed's time for a call of ``title``, scaled, times a factor drawn from the
    call's prompt: the same call waits the same in every run of the same seed."""
    digest = hashlib.sha256(f"{seed}\0{title}\0{prompt}".encode()).hexdigest()
    factor = random.Random(digest).lognormvariate(0.0, SIGMA)
    return SEED_STEP_S[title] * scale * min(2.0, max(0.5, factor))


def scenario(scale: float, seed: int) -> Any:
    known = answers()

    def reply(req: Request) -> Reply | Failure:
        title = req.schema_title
        if title not in known:
            return Failure(400, "invalid_request_error", f"no answer for {title!r}")
        return answer(known[title], delay_s=varied_delay_s(title, req.prompt, scale, seed))

    return reply


@dataclass(frozen=True)
class Reading:
    """One job, in seconds from its insert."""

    total_s: float  # to the job completed, the whole course stored
    readable_s: dict[int, float]  # chapter index -> its doc first seen in the store
    reviewed_s: dict[int, float]  # chapter index -> its review call ended

    @property
    def first_s(self) -> float:
        return min(self.readable_s.values())

    @property
    def first_ratio(self) -> float:
        return self.first_s / self.total_s

    @property
    def max_lag_s(self) -> float:
        """The longest wait between a review's end and its chapter being readable."""
        return max(self.readable_s[i] - self.reviewed_s[i] for i in self.reviewed_s)


def run_job(scale: float = SCALE, seed: int = 0) -> Reading:
    with ScriptedApi(scenario(scale, seed)) as api:
        claude = {
            "ANALYSIS_ENGINE": "claude", "CLAUDE_BIN": str(CLAUDE_BIN),
            "ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": api.url,
            "CLAUDE_TIMEOUT_S": "120", "HEARTBEAT_INTERVAL": "5000", "LEASE_TIME": "60000",
        }  # fmt: skip
        with Stack("reviewed", **claude) as stack:
            stack.worker()
            stack.bridge()
            stack.wait_ready()
            job_id = stack.submit()
            seen = _watch(Path(stack.env["SQLITE_PATH"]), job_id)
            job = stack.store.get_job(job_id)
            if job.status != "completed" or job.completed_at is None:
                raise RuntimeError(f"the benchmark job ended {job.status}: {job.last_error}")
            reviewed = _reviews_ended(Path(stack.env["TEMP_DIR"]) / "raw")
    created_s = job.created_at / 1000
    return Reading(
        total_s=job.completed_at / 1000 - created_s,
        readable_s={i: t - created_s for i, t in seen.items()},
        reviewed_s={i: t - created_s for i, t in reviewed.items()},
    )


def _watch(db_path: Path, job_id: str, timeout_s: float = 300) -> dict[int, float]:
    """Wall time at which each chapter's doc was first seen, until the job ended."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            now = time.time()
            for (index,) in db.execute(
                "SELECT chapterIndex FROM docs WHERE jobId=? AND kind='chapter'", (job_id,)
            ):
                seen.setdefault(int(index), now)
            (status,) = db.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
            if status in ("completed", "failed", "canceled", "dead"):
                return seen
            time.sleep(0.02)
    finally:
        db.close()
    raise RuntimeError(f"the benchmark job did not end in {timeout_s} s")


def _reviews_ended(raw_dir: Path) -> dict[int, float]:
    """Wall time at which each chapter's review call ended (its last call, if asked
    again), from the kept raw outputs."""
    ended: dict[int, float] = {}
    for meta in raw_dir.rglob("review-*.meta.json"):
        match = _REVIEW_META.match(meta.name)
        if match is not None:
            index = int(match.group(1))
            ended[index] = max(ended.get(index, 0.0), meta.stat().st_mtime)
    if len(ended) != CHAPTERS:
        raise RuntimeError(f"{len(ended)} review calls found in {raw_dir}, not {CHAPTERS}")
    return ended


def median(values: list[float]) -> float:
    return statistics.median(values)
