"""Recovery after a worker is killed, and the store's own speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.runs.row import Row
from bench.stack import median, pct


def recovery(repeats: int) -> list[Row]:
    """Worker SIGKILL mid-step to the step's restart elsewhere (reliability scenario)."""
    from testbed.reliability.scenarios import worker_kill

    times = []
    for i in range(repeats):
        root = Path(f"/tmp/fondation-bench-recovery-{os.getpid()}-{i}")
        out = worker_kill(root, 3, quick=True)
        times.extend(out.recovery_s)
    return [
        Row(
            "Recovery after a worker SIGKILL",
            f"{median(times):.1f} s (max {max(times):.1f} s)",
            "300 s lease, then step 1 again (today)",
            "<= 2 x HEARTBEAT_INTERVAL (120 s)",
            median(times) <= 120,
            f"n={len(times)}; liveness 0.3 s in this scenario;"
            " backoff 5 s + 0-5 s jitter is most of it",
        )
    ]


_CLAIMER = """
import sys, time
from store.sqlite import SqliteStore
s = SqliteStore(sys.argv[1]); n = 0
while True:
    got = s.claim_batch(sys.argv[2], 1, 60000, 10**13)
    if not got:
        break
    n += 1
print(n)
"""


def store(jobs: int = 2000) -> list[Row]:
    """Claims per second with 4 claimers on one SQLite file; cost of a progress write."""
    from store.records import JobSpec, RepositorySpec
    from store.sqlite import SqliteStore

    root = Path(f"/tmp/fondation-bench-store-{os.getpid()}")
    root.mkdir(parents=True, exist_ok=True)
    path = root / "claims.db"
    st = SqliteStore(path)
    repo = st.upsert_repository(RepositorySpec(user_id="u", name="r", full_name="o/r"), 1)
    for i in range(jobs):
        st.create_job(JobSpec(user_id="u", repository_id=repo.id), i)
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(path), f"b{i}"], stdout=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    counts = [int(p.communicate()[0]) for p in procs]
    elapsed = time.monotonic() - started
    claimed = sum(counts)
    dup = claimed - jobs
    job, _ = st.create_job(JobSpec(user_id="u", repository_id=repo.id), 10**12)
    [c] = st.claim_batch("w", 1, 60000, 10**13)
    # A job as far as step 4, with artifacts of a realistic size stored for steps 0-3.
    artifact = json.dumps({"text": "x" * 4000})
    for step in range(4):
        st.begin_step(job.id, c.lease_token, step, "w", 10**13)
        st.finish_step(job.id, c.lease_token, step, artifact, 10**13)
    # Step 4 is started again and again (never finished, so each start writes); step 5's
    # artifact is stored again and again (each store writes it whole).
    starts, finishes = [], []
    for _ in range(300):
        t = time.perf_counter()
        st.begin_step(job.id, c.lease_token, 4, "w", 10**13)
        starts.append((time.perf_counter() - t) * 1e6)
        t = time.perf_counter()
        st.finish_step(job.id, c.lease_token, 5, artifact, 10**13)
        finishes.append((time.perf_counter() - t) * 1e6)
    return [
        Row(
            "Store: claims/s, 4 claimers on one SQLite file",
            f"{claimed / elapsed:.0f} claims/s",
            "-",
            "-",
            dup == 0,
            f"{claimed} claims of {jobs} jobs, {dup} duplicates",
        ),
        Row(
            "Store: cost of a progress write (begin_step, step 4 of a job)",
            f"{median(starts):.0f} us",
            "-",
            "-",
            None,
            f"p99 {pct(starts, 0.99):.0f} us; one transaction that writes the progress and"
            " reads back what the step needs (the job, its repository, the 4 earlier steps'"
            " 4 kB artifacts); WAL, synchronous=NORMAL",
        ),
        Row(
            "Store: cost of storing a step's artifact (finish_step, 4 kB)",
            f"{median(finishes):.0f} us",
            "-",
            "-",
            None,
            f"p99 {pct(finishes, 0.99):.0f} us",
        ),
    ]
